"""The HTTP/1.1 upgrade: a connection leaves HTTP/1 and carries one WebSocket session.

``H1Protocol`` calls :func:`upgrade_h1` for a request with ``Upgrade:
websocket`` (when the interface serves WebSockets and ``--ws`` is on). The
parser has stopped right after that head; :meth:`H1Protocol.detach` hands over
the transport with the bytes read past the head, and an :class:`H1Carrier`
becomes the transport's protocol. An invalid handshake gets a 400 with the
reason and the app is not called; a valid one becomes a
:class:`~.session.CoreSession` dispatched through ``WorkerState``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Final

from granian_core.exchange import ClientDisconnected, Headers, ResponseError
from granian_core.http1.heads import (
    KIND_DATE,
    KIND_SERVER,
    NAME_KINDS,
    learn_name,
    lines_ok,
)

from . import limits as ws_limits
from .handshake import HandshakeError, accept_token, check_h1_upgrade
from .session import CoreSession

if TYPE_CHECKING:
    from granian_core.http1.connection import H1Connection
    from granian_core.http1.events import RequestHead
    from granian_core.http1.protocol import Detached
    from granian_core.server.state import WorkerState

__all__ = ["H1Carrier", "upgrade_h1"]

logger = logging.getLogger("_granian")

_SWITCHING: Final = (
    b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n"
)
#: Lines of the 101 head before the app's headers: status, upgrade, connection, accept.
_FIXED_LINES: Final = 4
_TEXT_PLAIN: Final = (b"content-type", b"text/plain; charset=utf-8")


def upgrade_h1(state: WorkerState, detached: Detached, head: RequestHead) -> None:
    """Take over a detached HTTP/1 transport for the WebSocket upgrade request ``head``."""
    limits = ws_limits.DEFAULT_LIMITS
    carrier = H1Carrier(state, detached, limits.close_timeout)
    detached.transport.set_protocol(carrier)
    state.connections.add(carrier)
    if state.stopping:
        carrier.send_reject(503, [_TEXT_PLAIN], b"Server shutting down")
        return
    try:
        handshake = check_h1_upgrade(head.method, head.http_version, head.headers)
    except HandshakeError as exc:
        carrier.send_reject(400, [_TEXT_PLAIN, *exc.headers], exc.reason.encode())
        return
    assert handshake.key is not None
    carrier.accept_key = accept_token(handshake.key)
    raw_path, query_string, authority = split_target(head.target)
    session = CoreSession(
        carrier,
        state.loop,
        handshake,
        limits,
        conn=detached.info,
        method=head.method,
        http_version=head.http_version,
        raw_path=raw_path,
        query_string=query_string,
        headers=head.headers,
        authority=authority,
    )
    carrier.session = session
    if detached.trailing:
        session.feed(detached.trailing)
    state.dispatch_session(session)


def split_target(target: bytes) -> tuple[bytes, bytes, str | None]:
    """``(raw_path, query_string, authority)`` of an origin- or absolute-form target."""
    authority = None
    if target[:1] != b"/":
        scheme_end = target.find(b"://")
        if scheme_end > 0:
            rest = target[scheme_end + 3 :]
            ends = [i for i in (rest.find(b"/"), rest.find(b"?")) if i >= 0]
            end = min(ends) if ends else len(rest)
            authority = rest[:end].decode("latin-1")
            target = rest[end:]
        if target[:1] != b"/":
            target = b"/" + target
    raw_path, _, query_string = target.partition(b"?")
    return raw_path, query_string, authority


class H1Carrier(asyncio.Protocol):
    """The transport's protocol after an upgrade: bytes in and out of one session."""

    __slots__ = (
        "_abort_timer",
        "_close_timeout",
        "_closing",
        "_conn",
        "_drain_waiter",
        "_lost",
        "_state",
        "_transport",
        "_write_paused",
        "accept_key",
        "session",
    )

    def __init__(self, state: WorkerState, detached: Detached, close_timeout: float) -> None:
        self._state = state
        self._transport = detached.transport
        #: The HTTP/1 state machine of the upgrade request: renders rejections.
        self._conn: H1Connection = detached.conn
        self._write_paused = detached.write_paused
        self._close_timeout = close_timeout
        self._closing = False
        self._lost = False
        self._drain_waiter: asyncio.Future[None] | None = None
        self._abort_timer: asyncio.TimerHandle | None = None
        self.accept_key = b""
        self.session: CoreSession | None = None

    # == asyncio callbacks ================================================================
    def data_received(self, data: bytes) -> None:
        session = self.session
        if session is None:
            return  # a rejected handshake: the connection is closing
        try:
            session.feed(data)
        except Exception:  # a bug must cost this connection only, never the loop
            logger.exception("WebSocket connection failed")
            self.abort()

    def eof_received(self) -> bool:
        return False  # no half-close: EOF ends the connection

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._closing = True
        self._state.connections.discard(self)
        if self._abort_timer is not None:
            self._abort_timer.cancel()
            self._abort_timer = None
        self._wake_drain_waiter()
        session = self.session
        if session is not None:
            session.connection_lost()
            # The session refers to this carrier: let reference counting free both.
            self.session = None

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        self._wake_drain_waiter()
        if self.session is not None:
            self.session.writable()

    # == the worker's connection registry ===================================================
    def shutdown(self) -> None:
        if self.session is not None:
            self.session.shutdown()
        else:
            self.close()

    def abort(self) -> None:
        self._closing = True
        self._transport.abort()

    # == Carrier ==============================================================================
    @property
    def write_paused(self) -> bool:
        return self._write_paused

    def send_accept(self, headers: Headers) -> None:
        head = _switching_head(self.accept_key, headers, self._state)
        self.write(head)

    def send_reject(self, status: int, headers: Headers, body: bytes) -> None:
        conn = self._conn
        conn.close_after_response()
        head, body = conn.send_response(status, headers, body)
        self.write(head + body)
        self.close()

    def write(self, data: bytes) -> None:
        if not self._closing:
            self._transport.write(data)

    async def drain(self) -> None:
        if self._lost:
            raise ClientDisconnected("the client disconnected")
        if not self._write_paused:
            return
        waiter = self._drain_waiter
        if waiter is None:
            waiter = self._drain_waiter = self._state.loop.create_future()
        await waiter
        if self._lost:
            raise ClientDisconnected("the client disconnected")

    def pause_reading(self) -> None:
        if not self._closing:
            self._transport.pause_reading()

    def resume_reading(self) -> None:
        if not self._closing:
            self._transport.resume_reading()

    def close(self) -> None:
        """Close once the write buffer is out; drop it if the peer never takes it."""
        if self._closing:
            return
        self._closing = True
        self._transport.close()
        # A peer that stopped reading would keep a closing transport forever.
        self._abort_timer = self._state.loop.call_later(self._close_timeout, self._transport.abort)

    def _wake_drain_waiter(self) -> None:
        waiter = self._drain_waiter
        if waiter is not None:
            self._drain_waiter = None
            if not waiter.done():
                waiter.set_result(None)


def _switching_head(key: bytes, headers: Headers, source: WorkerState) -> bytes:
    """The 101 response: the fixed upgrade lines, the app's headers, server and date."""
    parts = [_SWITCHING, b"sec-websocket-accept: " + key + b"\r\n"]
    has_server = has_date = False
    for name, value in headers:
        kind = NAME_KINDS.get(name)
        if kind is None:
            kind = learn_name(name)
        if kind == KIND_SERVER:
            has_server = True
        elif kind == KIND_DATE:
            has_date = True
        try:
            parts.append(name + b": " + value + b"\r\n")
        except TypeError:
            raise ResponseError(f"invalid value for header {name!r}: {value!r}") from None
    block = b"".join(parts)
    if not lines_ok(block, _FIXED_LINES + len(headers)):
        raise ResponseError("a control character (CR, LF, NUL...) in a response header value")
    return b"".join(
        (
            block,
            b"" if has_server else source.server_header,
            b"" if has_date else source.date_header,
            b"\r\n",
        )
    )
