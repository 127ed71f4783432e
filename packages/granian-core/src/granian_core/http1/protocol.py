"""``H1Protocol``: socket I/O, timers and flow control around an :class:`H1Connection`.

One protocol per TCP (or TLS, or Unix) connection. It feeds received bytes to
the sans-IO connection, turns each complete request head into an
:class:`~.exchange.H1Exchange` handed to ``WorkerState.dispatch``, writes what
the connection serializes, and owns everything time- or buffer-related:

- header read timeout: one ``call_at`` timer per connection, armed at connection
  open and after each response, re-armed lazily (a moved deadline costs no new
  timer); a client that does not complete a head in time is disconnected;
- read flow control: reading pauses while more than ``http1_buffer_size``
  parsed bytes wait (unread body, pipelined requests) and resumes at half;
- write flow control: ``pause_writing``/``resume_writing`` drive ``drain()``;
- write coalescing: small writes are held until the worker's next flush, so the
  responses of one loop pass leave together (see :mod:`granian_core.coalesce`);
- pipelining: one request at a time; with ``--http1-pipeline-flush`` the
  responses to a batch of pipelined requests go out in one write;
- WebSocket upgrades (``--ws`` and an interface that serves them): the parser
  stops at the upgrade head and :meth:`H1Protocol.detach` hands the transport
  to :mod:`granian_core.ws.h1`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import IO, TYPE_CHECKING, NamedTuple, cast

# ws.h1 as a module: it imports this package, a cycle that only attribute access at call
# time tolerates (an import statement per upgrade cost about 1 µs).
import granian_core.ws.h1 as ws_h1
from granian_core.coalesce import HeldWrites
from granian_core.exchange import ClientDisconnected
from granian_core.http2.protocol import PREFACE as H2_PREFACE
from granian_core.http2.protocol import H2Protocol

from .connection import DISCARD_LIMIT, BodyError, H1Connection
from .events import ParseError, RequestHead
from .exchange import H1Exchange
from .parsers import parser_factory
from .transport_info import connection_info, native_sendfile

if TYPE_CHECKING:
    from granian_core.config import ServerConfig
    from granian_core.exchange import ConnectionInfo
    from granian_core.server.state import WorkerState

__all__ = ["Detached", "H1Protocol"]

logger = logging.getLogger("_granian")

#: Responses to pipelined requests held back for one write (--http1-pipeline-flush), at most.
DEFERRED_LIMIT = 64 * 1024
#: Chunk size when a file is sent by reading and writing (no sendfile).
FILE_CHUNK = 256 * 1024
#: Timers may fire this early (the loop's clock resolution); still counts as expired.
_TIMER_SLACK = 0.005
#: How long a closing connection keeps reading (and dropping) what the client still sends.
LINGER_SECONDS = 5.0


class _Settings:
    """The HTTP/1 options, resolved once per configuration (not once per connection)."""

    __slots__ = (
        "buffer_size",
        "header_read_timeout",
        "keep_alive",
        "new_parser",
        "pipeline_flush",
        "websockets",
    )

    def __init__(self, config: ServerConfig) -> None:
        # The class, not its name: resolving the name cost an import per connection.
        self.new_parser = parser_factory(config.resolved_http1_parser())
        self.buffer_size = config.http1_buffer_size
        self.header_read_timeout = config.http1_header_read_timeout / 1000
        self.keep_alive = config.http1_keep_alive
        self.pipeline_flush = config.http1_pipeline_flush
        self.websockets = config.websockets


_settings_cache: tuple[ServerConfig, _Settings] | None = None


def _settings_for(config: ServerConfig) -> _Settings:
    global _settings_cache
    cached = _settings_cache
    if cached is not None and cached[0] is config:
        return cached[1]
    settings = _Settings(config)
    _settings_cache = (config, settings)
    return settings


class Detached(NamedTuple):
    """What :meth:`H1Protocol.detach` hands to the transport's next protocol."""

    transport: asyncio.Transport
    info: ConnectionInfo
    #: The state machine, with the upgrade request current (renders a rejection).
    conn: H1Connection
    #: Bytes received past the upgrade head.
    trailing: bytes
    write_paused: bool


class H1Protocol(HeldWrites, asyncio.Protocol):
    """The HTTP/1.1 server side of one connection."""

    __slots__ = (
        "_body_waiter",
        "_closing",
        "_conn",
        "_deferred",
        "_deferred_size",
        "_discarded",
        "_discarding",
        "_drain_waiter",
        "_exchange",
        "_head_deadline",
        "_head_timeout",
        "_head_timer",
        "_high_water",
        "_loop",
        "_lost",
        "_low_water",
        "_parser",
        "_pipeline_flush",
        "_read_paused",
        "_serve_when_writable",
        "_sniffed",
        "_state",
        "_transport",
        "_websockets",
        "_write_paused",
        "info",
    )

    def __init__(self, state: WorkerState) -> None:
        settings = _settings_for(state.config)
        self._state = state
        self._loop = state.loop
        #: Upgrade requests become WebSocket sessions (else they are plain HTTP).
        self._websockets = settings.websockets and state.interface.supports_websockets
        parser = settings.new_parser(settings.buffer_size, settings.keep_alive, self._websockets)
        #: Fed directly, and its ``buffered`` read directly: the hottest calls per request.
        self._parser = parser
        self._conn = H1Connection(parser, keep_alive=settings.keep_alive, header_source=state)
        self._head_timeout = settings.header_read_timeout
        self._high_water = settings.buffer_size
        self._low_water = settings.buffer_size // 2
        self._pipeline_flush = settings.pipeline_flush
        self._transport: asyncio.Transport | None = None
        self._exchange: H1Exchange | None = None
        self._deferred: list[bytes] | None = None
        self._deferred_size = 0
        self._start_holding(state.coalescer)
        self._body_waiter: asyncio.Future[None] | None = None
        self._drain_waiter: asyncio.Future[None] | None = None
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_deadline: float | None = None
        self._read_paused = False
        self._serve_when_writable = False
        self._write_paused = False
        self._discarding = False
        self._discarded = 0
        self._closing = False
        self._lost = False
        #: Bytes read while watching for the h2 prior-knowledge preface; None once decided.
        self._sniffed: bytes | None = None

    # == asyncio callbacks ================================================================
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, only look-alikes.
        self._transport = cast(asyncio.Transport, transport)
        self.info = connection_info(transport)
        if self._state.config.http == "auto" and self.info.scheme == "http":
            self._sniffed = b""
        self._state.connections.add(self)
        self._state.metrics.connections_handled += 1
        if self._state.stopping:
            self._close()
            return
        self._arm_head_timer()

    def data_received(self, data: bytes) -> None:
        if self._sniffed is not None:
            data = self._sniff_h2_preface(data)
            if not data:
                return
        parser = self._parser
        try:
            parser.feed(data)
            if self._exchange is None:
                if not self._closing:
                    self._serve_next()
            elif self._body_waiter is not None:
                self._wake_body_waiter()
            elif self._discarding:
                self._continue_discard()
            if parser.buffered > self._high_water and not self._read_paused:
                self._pause_reading()
        except Exception:  # a bug must cost this connection only, never the loop
            logger.exception("HTTP/1 connection failed")
            self._abort()

    def _sniff_h2_preface(self, data: bytes) -> bytes:
        """Hand the connection to HTTP/2 if it opens with the h2 preface (``--http auto``).

        Returns the bytes HTTP/1 should parse: all of them once the preface is ruled
        out, none while it may still be coming or after the hand-over.
        """
        assert self._sniffed is not None
        seen = self._sniffed + data
        size = min(len(seen), len(H2_PREFACE))
        if seen[:size] != H2_PREFACE[:size]:
            self._sniffed = None
            return seen
        if len(seen) < len(H2_PREFACE):
            self._sniffed = seen
            return b""
        self._sniffed = None
        detached = self.detach()
        H2Protocol.from_preface(self._state, detached.transport, seen, detached.info)
        return b""

    def eof_received(self) -> bool:
        # Like hyper (Granian) without half-close support: EOF ends the connection, and an
        # in-flight exchange sees it as a disconnect once the transport reports the loss.
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._closing = True
        self._held = None
        self._state.connections.discard(self)
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        exchange = self._exchange
        if exchange is not None:
            exchange._on_connection_lost()
            # The exchange refers to this protocol: dropping it here lets reference
            # counting free the connection's objects (no work left for the collector).
            self._exchange = None
        self._parser.close()
        self._wake_body_waiter()
        self._wake_drain_waiter()

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        self._wake_drain_waiter()
        if self._serve_when_writable:
            self._serve_when_writable = False
            self._serve_next()

    # == graceful shutdown =================================================================
    def shutdown(self) -> None:
        """Close when idle; otherwise finish the current response, then close."""
        exchange = self._exchange
        if exchange is None or self._discarding or exchange.disconnected:
            self._close()
        else:
            self._conn.close_after_response()

    # == request cycle =====================================================================
    def _serve_next(self) -> None:
        """Dispatch the next complete request head, if one is queued."""
        if self._write_paused:
            # A client that sends but does not read: answer nothing more until it reads.
            self._serve_when_writable = True
            return
        conn = self._conn
        event = conn.next_request()
        if event is None:
            return
        if isinstance(event, ParseError):
            self._reject(event.status)
            return
        if event.upgrade is not None and self._websockets and event.upgrade == b"websocket":
            self._upgrade_websocket(event)
            return
        self._head_deadline = None
        if self._state.stopping:
            conn.close_after_response()
        if self._pipeline_flush and self._deferred is None and conn.has_queued_events:
            self._deferred = []
        exchange = H1Exchange(self, event)
        self._exchange = exchange
        self._state.dispatch(exchange)

    def _upgrade_websocket(self, head: RequestHead) -> None:
        ws_h1.upgrade_h1(self._state, self.detach(), head)

    def detach(self) -> Detached:
        """Give the transport up to another protocol (the caller calls ``set_protocol``).

        Everything this protocol does with the transport stops: timers, read flow
        control, deferred writes, its place in the connection registry.
        """
        self._flush_deferred()
        self._deferred = None
        self.release_held()
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        self._head_deadline = None
        self._state.connections.discard(self)
        transport = self._transport
        assert transport is not None
        if self._read_paused:
            self._read_paused = False
            transport.resume_reading()
        self._closing = True
        self._transport = None
        conn = self._conn
        trailing = conn.take_trailing()
        self._parser.close()
        return Detached(transport, self.info, conn, trailing, self._write_paused)

    def _response_done(self) -> None:
        """The current response is complete: drop the unread body, then the next cycle."""
        exchange = self._exchange
        if exchange is None or self._lost:
            return
        exchange._over = True  # H1Exchange._finish, inlined: the waiter is rarely there
        if exchange._done_waiter is not None:
            exchange._wake_done_waiter()
        conn = self._conn
        if not conn.keep_alive:
            # The client may still be sending the body: a plain close would reset.
            self._close(linger=not conn.body_complete)
            return
        if not conn.body_complete:
            if conn.awaiting_continue:
                # The client holds the body back: the connection is unusable.
                self._close(linger=True)
                return
            self._discarded = 0
            self._discarding = True
            self._continue_discard()
            if self._discarding and self._read_paused:
                self._resume_reading()
            return
        self._next_cycle()

    def _continue_discard(self) -> None:
        conn = self._conn
        try:
            self._discarded += conn.discard_body()
        except BodyError:
            self._close()
            return
        if conn.body_complete:
            self._discarding = False
            self._next_cycle()
        elif self._discarded > DISCARD_LIMIT:
            self._close(linger=True)

    def _next_cycle(self) -> None:
        conn = self._conn
        conn.start_next_cycle()
        self._exchange = None
        self._arm_head_timer()
        if self._read_paused:
            self._resume_if_drained()
        if self._parser.events:  # a pipelined request (or a parse error) is queued
            self._serve_next()
        if self._exchange is None and self._deferred is not None:
            self._flush_deferred()

    def _reject(self, status: int) -> None:
        """Answer a malformed request with an empty ``status`` response and close."""
        self._write(self._conn.error_response(status))
        self._close(linger=True)  # the rest of that request may still be on its way

    def _on_body_error(self, exchange: H1Exchange) -> None:
        """The request body turned out malformed while the app was reading it."""
        exchange.disconnected = True
        if not self._conn.head_sent:  # a started response may not have written its head yet
            self._write(self._conn.error_response(400))
        self._close(linger=True)

    # == writing ===========================================================================
    def _write(self, data: bytes) -> None:
        deferred = self._deferred
        if deferred is not None:
            deferred.append(data)
            self._deferred_size += len(data)
            if self._deferred_size >= DEFERRED_LIMIT:
                self._flush_deferred()
        elif not self._closing:
            self._send(data)

    def _write_parts(self, parts: list[bytes]) -> None:
        """Write ``parts`` in order: small ones joined, large ones without a copy."""
        if len(parts) == 1 or self._deferred is not None:
            self._write(parts[0] if len(parts) == 1 else b"".join(parts))
        elif not self._closing:
            self._send_parts(parts, sum(map(len, parts)))

    def _flush_deferred(self) -> None:
        deferred = self._deferred
        if deferred is not None:
            self._deferred = None
            self._deferred_size = 0
            if deferred and not self._lost:
                self._send(b"".join(deferred))

    async def _drain(self) -> None:
        if self._lost:
            raise ClientDisconnected("the client disconnected")
        if not self._write_paused:
            return
        waiter = self._drain_waiter
        if waiter is None:
            waiter = self._drain_waiter = self._loop.create_future()
        await waiter
        if self._lost:
            raise ClientDisconnected("the client disconnected")

    def _wake_drain_waiter(self) -> None:
        waiter = self._drain_waiter
        if waiter is not None:
            self._drain_waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def _send_file_body(self, file: IO[bytes], offset: int, count: int) -> int:
        """Send ``count`` bytes of ``file`` from ``offset``; returns the bytes sent."""
        self._flush_deferred()
        self.release_held()  # sendfile bypasses the transport's buffer
        transport = self._transport
        assert transport is not None
        if native_sendfile(self._loop, transport):
            try:
                return await self._loop.sendfile(transport, file, offset, count)
            except (ConnectionError, RuntimeError) as exc:
                if isinstance(exc, RuntimeError) and not transport.is_closing():
                    raise
                raise ClientDisconnected("the client disconnected") from exc
        file.seek(offset)
        sent = 0
        while sent < count:
            chunk = await self._state.read_file(file, min(FILE_CHUNK, count - sent))
            if not chunk:
                break
            self._write(chunk)
            sent += len(chunk)
            if self._write_paused or self._lost:
                await self._drain()
        return sent

    # == reading ===========================================================================
    async def _wait_body(self) -> None:
        """Wait for more request bytes (or the end of the connection)."""
        if self._read_paused:
            self._resume_reading()
        waiter = self._body_waiter = self._loop.create_future()
        try:
            await waiter
        finally:
            self._body_waiter = None

    def _wake_body_waiter(self) -> None:
        waiter = self._body_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _pause_reading(self) -> None:
        if not self._closing:
            self._read_paused = True
            self._transport.pause_reading()  # type: ignore[union-attr]

    def _resume_if_drained(self) -> None:
        """Resume paused reading once the parsed, unread bytes are down to the low-water mark.

        Callers test ``_read_paused`` first: reading is rarely paused, and the test is
        cheaper than this call on the per-request path.
        """
        if self._conn.buffered <= self._low_water:
            self._resume_reading()

    def _resume_reading(self) -> None:
        if self._read_paused and not self._closing:
            self._read_paused = False
            self._transport.resume_reading()  # type: ignore[union-attr]

    # == header read timeout ===============================================================
    def _arm_head_timer(self) -> None:
        self._head_deadline = deadline = self._loop.time() + self._head_timeout
        if self._head_timer is None:
            self._head_timer = self._loop.call_at(deadline, self._on_head_timer)

    def _on_head_timer(self) -> None:
        self._head_timer = None
        deadline = self._head_deadline
        if deadline is None or self._closing:
            return  # a request is being served; re-armed after its response
        if self._loop.time() + _TIMER_SLACK >= deadline:
            self._close()  # hyper's behaviour: no response, just close
        else:
            self._head_timer = self._loop.call_at(deadline, self._on_head_timer)

    # == closing ===========================================================================
    def _close(self, linger: bool = False) -> None:
        """Close once what was written is out; ``linger`` while the client may still send."""
        if self._closing:
            return
        self._flush_deferred()
        self.release_held()
        self._closing = True
        self._head_deadline = None
        transport = self._transport
        if transport is None:
            return
        if linger and transport.can_write_eof():
            self._linger(transport)
        else:
            transport.close()

    def _linger(self, transport: asyncio.Transport) -> None:
        """Half-close, and read on (dropping it) until the client closes, for a while.

        Closing a socket with unread input makes the kernel send a reset, which can
        destroy the response at the client before it was read (RFC 9112 §9.6): the
        response goes out with our FIN, and what the client still sends is drained.
        """
        self._parser.close()  # from now on input is dropped, not parsed
        if self._read_paused:
            self._read_paused = False
            transport.resume_reading()
        transport.write_eof()
        self._loop.call_later(LINGER_SECONDS, transport.close)

    def abort(self) -> None:
        """Drop the connection now (shutdown grace period over)."""
        self._abort()

    def _abort(self) -> None:
        # What the app wrote before failing goes out first, as if it had never been held.
        self.release_held()
        self._closing = True
        self._deferred = None
        if self._transport is not None:
            self._transport.abort()
