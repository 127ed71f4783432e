"""``H2Protocol``: one HTTP/2 connection on an asyncio transport.

Socket I/O, timers and the connection's events live here; the pieces that make
decisions are sans-IO and tested alone: ``flow`` (window credit),
``outbound`` (send scheduling), ``guards`` (abuse limits), ``headers``.

Output is written once per batch: after a ``data_received`` batch, and once
per loop iteration for writes coming from handler tasks (``_request_flush``
registers with the worker's ``WriteCoalescer``, one handle per pass for all
connections), so many streams answering at once share one ``write``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import IO, TYPE_CHECKING, cast

from granian_core.tls import connection_info

from .connection import PREFACE
from .errors import ProtocolError, StreamClosedError
from .exchange import H2Exchange
from .flow import AdaptiveWindow, ConnectionCredit
from .frames import (
    ENHANCE_YOUR_CALM,
    NO_ERROR,
    PROTOCOL_ERROR,
    REFUSED_STREAM,
    SETTING_INITIAL_WINDOW_SIZE,
    SETTING_MAX_FRAME_SIZE,
    goaway_frame,
)
from .guards import ControlFrameGuard, ResetRateGuard
from .headers import header_pair, response_headers
from .outbound import SendScheduler
from .settings import ADAPTIVE_WINDOW_LIMIT, H2Settings, new_connection
from .websocket import H2WebSocketStream, open_session

if TYPE_CHECKING:
    from granian_core.config import ServerConfig
    from granian_core.exchange import ConnectionInfo, Headers
    from granian_core.server.state import WorkerState

    from .headers import RequestHead

__all__ = ["PREFACE", "H2Protocol"]

logger = logging.getLogger("_granian")

#: Opaque data of our PINGs: keep-alive probes and bandwidth-delay probes.
_KEEPALIVE_PING = b"gran-ka\x00"
_BDP_PING = b"gran-bdp"
#: At most this much DATA is framed between two transport writes.
_WRITE_BUDGET = 64 * 1024


_settings_cache: list[tuple[ServerConfig, bool, H2Settings]] = []


def _settings_for(config: ServerConfig, websockets: bool) -> H2Settings:
    """``H2Settings`` for a worker's config, computed once (a worker has one config)."""
    if (
        not _settings_cache
        or _settings_cache[0][0] is not config
        or _settings_cache[0][1] is not websockets
    ):
        _settings_cache[:] = [(config, websockets, H2Settings.from_config(config, websockets))]
    return _settings_cache[0][2]


class H2Protocol(asyncio.Protocol):
    """Serves the streams of one HTTP/2 connection through ``state.dispatch``."""

    def __init__(self, state: WorkerState, conn_info: ConnectionInfo | None = None) -> None:
        self.state = state
        self.loop = state.loop
        websockets = state.interface.supports_websockets
        settings = self.settings = _settings_for(state.config, websockets)
        self.send_buffer_limit = settings.max_send_buffer_size
        self._connection = new_connection(settings, self)
        self._scheduler = SendScheduler(self._connection, settings.max_send_buffer_size)
        self._credit = ConnectionCredit(
            settings.connection_window, max(settings.connection_window, settings.stream_window)
        )
        self._connection_window = settings.connection_window
        self._stream_window = settings.stream_window
        self._stream_batch = max(1, settings.stream_window // 4)
        self._adaptive = (
            AdaptiveWindow(
                min(settings.connection_window, settings.stream_window), ADAPTIVE_WINDOW_LIMIT
            )
            if settings.adaptive_window
            else None
        )
        self._resets = ResetRateGuard(settings.max_concurrent_streams)
        self._control = ControlFrameGuard()
        self._streams: dict[int, H2Exchange] = {}
        #: Requests of the input batch being processed, dispatched once it proved valid.
        self._arrived: list[H2Exchange] = []
        self._transport: asyncio.Transport | None = None
        self._conn_info = conn_info
        self._paused = False  # transport write buffer over its high-water mark
        self._flush_pending = False
        self._closed = False
        self._last_stream_id: int | None = None  # set once our GOAWAY went out
        self._keepalive: asyncio.TimerHandle | None = None
        self._ping_deadline: asyncio.TimerHandle | None = None
        self._server_pair = header_pair(state.server_header)
        self._date_raw = b""
        self._date_pair = (b"date", b"")

    @classmethod
    def from_preface(
        cls,
        state: WorkerState,
        transport: asyncio.Transport,
        initial_data: bytes,
        conn_info: ConnectionInfo | None = None,
    ) -> H2Protocol:
        """Take over ``transport`` from HTTP/1 after it read the HTTP/2 preface (prior knowledge).

        ``initial_data`` is everything read so far, preface included. The caller
        must already have left ``state.connections`` and stopped its own timers.
        """
        protocol = cls(state, conn_info)
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        transport.resume_reading()
        protocol.data_received(initial_data)
        return protocol

    # -- asyncio.Protocol ------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport = cast("asyncio.Transport", transport)
        if self._conn_info is None:  # our own connection, not one HTTP/1 handed over
            self._conn_info = connection_info(transport)
            self.state.metrics.connections_handled += 1
        self.state.connections.add(self)
        transport.write(self._connection.data_to_send())
        self._arm_keepalive()
        if self.state.stopping:
            self.shutdown()

    def data_received(self, data: bytes) -> None:
        if self._closed:
            return
        assert self._transport is not None
        if not self._transport.get_write_buffer_size():
            self._control.drained()
        try:
            self._connection.receive_data(data)  # calls the on_* methods below
        except ProtocolError:
            # The connection queued a GOAWAY with the error code. The batch's requests
            # are not started: their connection is failing.
            self._arrived.clear()
            self._close(graceful=False)
            return
        except Exception:  # a bug must cost this connection only, as in HTTP/1
            logger.exception("HTTP/2 connection failed")
            self._arrived.clear()
            self.abort()
            return
        if self._arrived:
            self._dispatch_arrived()
        self._flush()

    def _dispatch_arrived(self) -> None:
        arrived = self._arrived
        self._arrived = []
        dispatch = self.state.dispatch
        for exchange in arrived:
            if not exchange.disconnected:  # not reset within the same batch
                dispatch(exchange)

    def eof_received(self) -> bool | None:
        return None  # the client is done: close our side too

    def pause_writing(self) -> None:
        self._paused = True
        if self._transport is not None and not self._closed:
            self._transport.pause_reading()  # a peer that does not read stops being read

    def resume_writing(self) -> None:
        self._paused = False
        if self._closed or self._transport is None:
            return
        self._transport.resume_reading()
        self._control.drained()
        for exchange in list(self._streams.values()):
            exchange.transport_resumed()
        self._request_flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self.state.connections.discard(self)
        self._cancel_timers()
        self._lose_streams()
        self._connection.release_handler()

    @property
    def closed(self) -> bool:
        return self._closed

    # -- graceful shutdown -------------------------------------------------------------------
    def shutdown(self) -> None:
        """Send GOAWAY, let the open streams finish, then close.

        The frame is built here, not with ``close_connection``, which stops the
        connection at once: open streams could not finish.
        """
        if self._closed or self._last_stream_id is not None:
            return
        assert self._transport is not None
        last = self._last_stream_id = self._connection.highest_inbound_stream_id
        self._transport.write(self._connection.data_to_send() + goaway_frame(last, NO_ERROR))
        if not self._streams:
            self._close(graceful=True)
            return
        for stream in list(self._streams.values()):
            if isinstance(stream, H2WebSocketStream):
                stream.shutdown()  # sessions never end by themselves: close them (1001)

    async def read_file(self, file: IO[bytes], size: int) -> bytes:
        return await self.state.read_file(file, size)

    def abort(self) -> None:
        """Drop the connection now (shutdown grace period over)."""
        if self._transport is not None and not self._closed:
            self._transport.abort()

    # -- StreamOwner (used by H2Exchange) -------------------------------------------------------
    @property
    def transport_paused(self) -> bool:
        return self._paused

    def response_head(
        self, status: int, headers: Headers, content_length: int | None
    ) -> tuple[list[tuple[bytes, bytes]], int | None]:
        raw = self.state.date_header
        if raw is not self._date_raw:
            self._date_raw = raw
            self._date_pair = header_pair(raw)
        return response_headers(status, headers, self._server_pair, self._date_pair, content_length)

    def send_head(self, exchange: H2Exchange, block: list[tuple[bytes, bytes]], end: bool) -> None:
        if self._closed:
            return
        try:
            self._connection.send_headers(exchange.stream_id, block, end_stream=end)
        except StreamClosedError:
            self._stream_gone(exchange)
            return
        if end:
            exchange.sender.closed = True
            self.finish(exchange)
        self._request_flush()

    def send_body(self, exchange: H2Exchange, data: bytes, end: bool) -> None:
        sender = exchange.sender
        if self._closed or sender.closed:
            return
        try:
            self._scheduler.send_now(sender, data, end, direct=not self._paused)
        except StreamClosedError:
            self._stream_gone(exchange)
            return
        self._request_flush()

    def finish(self, exchange: H2Exchange) -> None:
        """The stream's response end was handed to the connection: forget the stream."""
        stream_id = exchange.stream_id
        if self._streams.pop(stream_id, None) is None:
            return
        if exchange.remote_open and exchange.sender.reset_code is None:
            # Complete response, body still coming: ask the client to stop (RFC 9113 §8.1).
            self._reset_stream(stream_id, NO_ERROR)
        # Also when all of it had arrived: its unread part goes now, so a later read
        # must fail rather than wait on a stream that takes nothing more.
        if not exchange.disconnected:
            exchange.body_dropped()
        self._release(self._credit.consumed(exchange.take_unread()))
        self._request_flush()

    def reset(self, exchange: H2Exchange, error_code: int) -> None:
        """Abort the stream (the application failed mid-response)."""
        if not exchange.sender.closed:
            self._reset_stream(exchange.stream_id, error_code)
        self._forget(exchange)
        self._request_flush()

    def body_consumed(self, exchange: H2Exchange, size: int) -> None:
        """The application read ``size`` flow-controlled bytes: give the window back."""
        released = self._credit.consumed(size)
        if released:
            self._connection.increment_flow_control_window(released)
        if exchange.remote_open:
            released += self._stream_credit(exchange, size)
        if released:
            self._request_flush()

    # -- ConnectionEvents (called by the connection while it processes input) ------------------
    def on_request(self, stream_id: int, head: RequestHead, ended: bool) -> None:
        if self._last_stream_id is not None and stream_id > self._last_stream_id:
            self._reset_stream(stream_id, REFUSED_STREAM)  # opened after our GOAWAY
            return
        assert self._conn_info is not None
        if head.protocol is not None:
            self._open_extended_connect(stream_id, head, head.protocol, ended)
            return
        exchange = H2Exchange(self, self._conn_info, stream_id, head, ended)
        self._streams[stream_id] = exchange
        self._arrived.append(exchange)

    def _open_extended_connect(
        self, stream_id: int, head: RequestHead, protocol: str, ended: bool
    ) -> None:
        """RFC 8441: a ``CONNECT`` with ``:protocol`` (its pseudo-headers were checked)."""
        if not self.settings.enable_connect_protocol:
            # Not advertised: the request is malformed (RFC 8441 §3).
            self._reset_stream(stream_id, PROTOCOL_ERROR)
            return
        assert self._conn_info is not None
        stream = H2WebSocketStream(self, self._conn_info, stream_id, head, ended)
        self._streams[stream_id] = stream
        open_session(self.state, stream, protocol)

    def on_data(self, stream_id: int, data: bytes, flow_length: int) -> None:
        credit = self._credit
        released = credit.received(flow_length)
        exchange = self._streams.get(stream_id)
        if exchange is not None and exchange.remote_open and data:
            exchange.feed(data, flow_length)
        else:
            released += credit.consumed(flow_length)  # padding only, or a finished stream
            if exchange is not None and exchange.remote_open:
                self._stream_credit(exchange, flow_length)
        self._release(released)
        self._probe(flow_length)

    def on_discarded(self, flow_length: int) -> None:
        credit = self._credit
        self._release(credit.received(flow_length) + credit.consumed(flow_length))
        self._probe(flow_length)

    def on_stream_ended(self, stream_id: int) -> None:
        exchange = self._streams.get(stream_id)
        if exchange is not None:
            exchange.end_of_body()

    def on_trailers(self, stream_id: int, trailers: list[tuple[bytes, bytes]]) -> None:
        exchange = self._streams.get(stream_id)
        if exchange is not None:
            exchange.trailers = trailers

    def on_reset(self, stream_id: int, error_code: int, remote: bool) -> None:
        """A client reset, or our reset of a stream the client misused: both count."""
        exchange = self._streams.get(stream_id)
        if exchange is not None:
            self._forget(exchange)
        if self._resets.reset(self.loop.time()):
            self._calm()

    def on_window_update(self, stream_id: int) -> None:
        if stream_id:
            self._scheduler.unblock(stream_id)
        else:
            self._scheduler.unblock_all()

    def on_settings(self, changed: dict[int, int]) -> None:
        if self._control.control_frame():
            self._calm()
            return
        if SETTING_INITIAL_WINDOW_SIZE in changed or SETTING_MAX_FRAME_SIZE in changed:
            self._scheduler.unblock_all()

    def on_ping(self, opaque: bytes) -> None:
        if self._control.control_frame():
            self._calm()

    def on_ping_ack(self, opaque: bytes) -> None:
        if opaque == _KEEPALIVE_PING:
            if self._ping_deadline is not None:
                self._ping_deadline.cancel()
                self._ping_deadline = None
            self._arm_keepalive()
        elif opaque == _BDP_PING and self._adaptive is not None:
            grown = self._adaptive.probe_acked()
            if grown is not None:
                self._grow_windows(grown)

    def on_terminated(self, error_code: int, last_stream_id: int) -> None:
        if error_code == NO_ERROR:
            # The client closes gracefully: its open streams finish, as on our shutdown.
            self.shutdown()
        else:
            self._close(graceful=False)

    # -- internals -------------------------------------------------------------------------------
    def _request_flush(self) -> None:
        if not self._flush_pending and not self._closed:
            self._flush_pending = True
            # The worker's coalescer: one handle per loop pass for every connection.
            self.state.coalescer.hold(self)

    def release_held(self) -> None:
        """The coalescer's flush: write what the handlers produced since the last one."""
        if self._flush_pending:  # not already flushed at the end of a read
            self._flush()

    def _flush(self) -> None:
        """Frame what flow control allows and write it, a budget at a time."""
        self._flush_pending = False
        transport = self._transport
        if self._closed or transport is None:
            return
        scheduler = self._scheduler
        connection = self._connection
        while True:
            if not self._paused and scheduler.has_ready:
                scheduler.pump(_WRITE_BUDGET)
            data = connection.data_to_send()
            if data:
                transport.write(data)
            if not data or self._paused or not scheduler.has_ready:
                break
        if self._last_stream_id is not None and not self._streams:
            self._close(graceful=True)

    def _probe(self, size: int) -> None:
        """Adaptive window: count received bytes, start a bandwidth-delay probe when due."""
        adaptive = self._adaptive
        if adaptive is not None and adaptive.data_received(size):
            self._connection.ping(_BDP_PING)

    def _release(self, credit: int) -> None:
        if credit:
            self._connection.increment_flow_control_window(credit)

    def _stream_credit(self, exchange: H2Exchange, size: int) -> int:
        """Stream window credit for ``size`` consumed bytes, sent when a batch is due."""
        credit = exchange.credit.consumed(size, self._stream_batch)
        if credit:
            # The stream may have closed meanwhile: its window no longer matters then.
            with contextlib.suppress(StreamClosedError):
                self._connection.increment_flow_control_window(credit, exchange.stream_id)
        return credit

    def _reset_stream(self, stream_id: int, error_code: int) -> None:
        with contextlib.suppress(StreamClosedError):  # already closed on both sides
            self._connection.reset_stream(stream_id, error_code)

    def _forget(self, exchange: H2Exchange) -> None:
        """Drop a stream that will send nothing more (reset either way)."""
        self._scheduler.discard(exchange.sender)
        if self._streams.pop(exchange.stream_id, None) is not None:
            self._release(self._credit.consumed(exchange.take_unread()))
        exchange.lost()

    def _stream_gone(self, exchange: H2Exchange) -> None:
        self._forget(exchange)
        self._request_flush()

    def _grow_windows(self, window: int) -> None:
        """Adaptive window: raise the connection window and the streams' initial window."""
        if window > self._connection_window:
            self._connection.increment_flow_control_window(window - self._connection_window)
            self._connection_window = window
        if window > self._stream_window:
            self._connection.update_settings({SETTING_INITIAL_WINDOW_SIZE: window})
            self._stream_window = window
            self._stream_batch = max(1, window // 4)
        connection_window = self._connection_window
        self._credit.resize(connection_window, max(connection_window, self._stream_window))

    def _arm_keepalive(self) -> None:
        interval = self.settings.keep_alive_interval
        if interval is not None and not self._closed:
            self._keepalive = self.loop.call_later(interval, self._send_keepalive)

    def _send_keepalive(self) -> None:
        self._keepalive = None
        if self._closed:
            return
        self._connection.ping(_KEEPALIVE_PING)
        self._request_flush()
        timeout = self.settings.keep_alive_timeout
        self._ping_deadline = self.loop.call_later(timeout, self._keepalive_expired)

    def _keepalive_expired(self) -> None:
        """No PING ACK in time: GOAWAY, then close without waiting for the peer.

        The GOAWAY (RFC 9113 §6.8: sent before closing) tells a client that is slow rather
        than gone which of its streams were processed, so it can retry the others.
        """
        self._ping_deadline = None
        self._connection.close_connection(NO_ERROR)
        self._close(graceful=False)

    def _cancel_timers(self) -> None:
        for handle in (self._keepalive, self._ping_deadline):
            if handle is not None:
                handle.cancel()
        self._keepalive = self._ping_deadline = None

    def _calm(self) -> None:
        """The client crossed an abuse limit: GOAWAY(ENHANCE_YOUR_CALM) and close."""
        self._connection.close_connection(ENHANCE_YOUR_CALM)
        self._close(graceful=False)

    def _close(self, graceful: bool) -> None:
        """Write what the connection still holds, then close; a non-graceful close does not wait for
        a peer that does not read, and fails every open stream at once."""
        if self._closed:
            return
        self._closed = True
        self._cancel_timers()
        transport = self._transport
        if transport is not None:
            data = self._connection.data_to_send()
            if data:
                transport.write(data)
            if graceful or not transport.get_write_buffer_size():
                transport.close()
            else:
                transport.abort()
        self._lose_streams()

    def _lose_streams(self) -> None:
        streams = list(self._streams.values())
        self._streams.clear()
        for exchange in streams:
            self._scheduler.discard(exchange.sender)
            exchange.lost()
