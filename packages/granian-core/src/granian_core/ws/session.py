"""``CoreSession``: the WebSocket session adapters see, on a frame codec (:mod:`.frames`).

Transport-neutral: bytes come in through :meth:`CoreSession.feed` and go out
through a :class:`~.carrier.Carrier`, so the same code serves an HTTP/1.1
upgrade and an HTTP/2 extended CONNECT stream (RFC 8441).

Inbound: the codec turns bytes into whole messages (our :class:`~.frames.FrameCodec`,
or wsproto's frame layer when permessage-deflate was negotiated), queued for
``receive()``. The queue is bounded: past
``max_queued_bytes``/``max_queued_messages`` the carrier stops reading, and
reading resumes once the app has taken half of it. Pings are answered here.
A protocol violation (bad frame, unmasked frame, invalid UTF-8, too big) fails
the session with the codec's close code (1002, 1007, 1009).

Outbound: each send is one frame, written at once; the sender then waits
while the carrier's write buffer is over its high-water mark.

Close: a peer close frame is echoed and the carrier closed. ``close()`` sends
ours and waits up to ``close_timeout`` for the peer's answer. Keepalive: after
``ping_interval`` seconds without inbound traffic the server pings; a peer
silent for ``pong_timeout`` more seconds is closed with 1011.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from granian_core.exchange import ClientDisconnected, ConnectionInfo, Headers
from granian_core.websocket import (
    ABNORMAL_CLOSURE,
    GOING_AWAY,
    INTERNAL_ERROR,
    NORMAL_CLOSURE,
    CloseMessage,
    Message,
    WebSocketSession,
    WebSocketStateError,
    is_valid_close_code,
)

from .carrier import Carrier
from .codec import Codec, WSState
from .deflate import negotiate_extensions
from .frames import FrameCodec
from .handshake import Handshake
from .limits import WSLimits
from .wsproto_codec import WsprotoCodec

__all__ = ["CoreSession"]

#: Timers may fire this early (the loop's clock resolution); still counts as due.
_TIMER_SLACK = 0.005
_OPEN = WSState.OPEN
_REMOTE_CLOSING = WSState.REMOTE_CLOSING


class CoreSession(WebSocketSession):
    """One WebSocket session; see the module docstring and :class:`WebSocketSession`."""

    __slots__ = (
        "_carrier",
        "_close_timer",
        "_codec",
        "_early",
        "_end_reported",
        "_handshake",
        "_input_ended",
        "_keepalive",
        "_last_seen",
        "_limits",
        "_loop",
        "_messages",
        "_pending_pong",
        "_ping_sent_at",
        "_queued_bytes",
        "_read_paused",
        "_receiving",
        "_shutting_down",
        "_waiter",
        "accepted",
        "authority",
        "close_code",
        "close_reason",
        "closed",
        "conn",
        "disconnected",
        "headers",
        "http_version",
        "method",
        "on_accept",
        "query_string",
        "raw_path",
        "status",
        "subprotocols",
    )

    def __init__(
        self,
        carrier: Carrier,
        loop: asyncio.AbstractEventLoop,
        handshake: Handshake,
        limits: WSLimits,
        *,
        conn: ConnectionInfo,
        method: str,
        http_version: str,
        raw_path: bytes,
        query_string: bytes,
        headers: Headers,
        authority: str | None = None,
    ) -> None:
        self.conn = conn
        self.method = method
        self.http_version = http_version
        self.raw_path = raw_path
        self.query_string = query_string
        self.headers = headers
        self.authority = authority
        self.subprotocols = handshake.subprotocols
        self.status = 0
        self.accepted = False
        self.closed = False
        self.disconnected = False
        self.close_code: int | None = None
        self.close_reason = ""
        #: Called once when the session is accepted (the dispatcher logs it).
        self.on_accept: Callable[[], None] | None = None
        self._carrier = carrier
        self._loop = loop
        self._handshake = handshake
        self._limits = limits
        self._codec: Codec | None = None
        #: Bytes received before the handshake was answered (None afterwards).
        self._early: bytearray | None = bytearray()
        self._messages: deque[str | bytes] = deque()
        self._queued_bytes = 0
        self._waiter: asyncio.Future[None] | None = None
        self._receiving = False
        self._input_ended = False
        self._end_reported = False
        self._read_paused = False
        self._pending_pong: bytes | None = None
        self._shutting_down = False
        self._keepalive: asyncio.TimerHandle | None = None
        self._close_timer: asyncio.TimerHandle | None = None
        self._last_seen = 0.0
        self._ping_sent_at: float | None = None

    @property
    def peer_closed(self) -> bool:
        """The client sent its close frame (or left): nothing more comes from it."""
        return self._input_ended

    # == handshake ========================================================================
    def accept(self, subprotocol: str | None = None, headers: Headers | None = None) -> None:
        if self.status:
            raise WebSocketStateError("the WebSocket handshake was already answered")
        if self.disconnected:
            raise ClientDisconnected("the client left before the WebSocket was accepted")
        limits = self._limits
        answer, extensions = negotiate_extensions(
            self._handshake.extension_offers, limits.max_message_size, limits.compression
        )
        extra: Headers = []
        if subprotocol is not None:
            extra.append((b"sec-websocket-protocol", subprotocol.encode("latin-1")))
        if answer is not None:
            extra.append((b"sec-websocket-extensions", answer))
        if headers:
            # The handshake's own fields are ours: an app's copy would contradict them (two
            # accept keys, an extension never negotiated) and the client would fail it.
            extra.extend(pair for pair in headers if _lower(pair[0]) not in _HANDSHAKE_FIELDS)
        self._carrier.send_accept(extra)  # raises on bad headers, before anything is sent
        self.status = 101
        self.accepted = True
        # Without an extension, our codec; permessage-deflate needs wsproto's hooks.
        self._codec = (
            FrameCodec(self, limits.max_message_size)
            if answer is None
            else WsprotoCodec(self, extensions)
        )
        if self.on_accept is not None:
            self.on_accept()
        self._last_seen = self._loop.time()
        if limits.ping_interval:
            self._arm_keepalive(self._last_seen + limits.ping_interval)
        early, self._early = self._early, None
        if early:
            self.feed(bytes(early))
        if self._read_paused and not self._backlogged():
            self._resume_reading()
        if self._shutting_down:
            self.close(GOING_AWAY, "Server shutting down")

    def reject(self, status: int, headers: Headers, body: bytes = b"") -> None:
        if self.status:
            raise WebSocketStateError("the WebSocket handshake was already answered")
        if not self.disconnected:
            self._carrier.send_reject(status, headers, body)  # raises before sending
        self.status = status
        self.closed = True
        self._early = None

    # == messages ==========================================================================
    async def receive(self) -> Message:
        if self._receiving:
            raise WebSocketStateError("another receive() is already waiting")
        messages = self._messages
        while not messages:
            if self._input_ended:
                if self._end_reported:
                    raise ClientDisconnected("the WebSocket session is over")
                self._end_reported = True
                return CloseMessage(self.close_code or ABNORMAL_CLOSURE, self.close_reason)
            self._receiving = True
            waiter = self._waiter = self._loop.create_future()
            try:
                await waiter
            finally:
                self._receiving = False
                self._waiter = None
        message = messages.popleft()
        self._queued_bytes -= len(message)
        if self._read_paused and self._drained_to_half():
            self._resume_reading()
        return message

    async def send_text(self, data: str) -> None:
        if type(data) is not str:
            raise TypeError(f"send_text() needs a str, got {type(data).__name__}")
        carrier = self._carrier
        carrier.write(self._open_codec().text_frame(data))
        if carrier.write_paused:
            await carrier.drain()

    async def send_bytes(self, data: bytes) -> None:
        if type(data) is not bytes:
            data = _as_bytes(data)
        carrier = self._carrier
        carrier.write(self._open_codec().binary_frame(data))
        if carrier.write_paused:
            await carrier.drain()

    def _open_codec(self) -> Codec:
        """The codec, for a send: raises unless the session is accepted and not closed."""
        codec = self._codec
        if codec is None:
            raise WebSocketStateError("send before the WebSocket was accepted")
        if self.closed:
            raise ClientDisconnected("the WebSocket is closed")
        return codec

    def close(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        if not is_valid_close_code(code):
            raise ValueError(f"invalid WebSocket close code {code!r}")
        _check_close_reason(reason)  # before any state changes: a failed close leaves none
        codec = self._codec
        if codec is None:
            raise WebSocketStateError("close() before accept(): reject() answers the handshake")
        if self.closed:
            return
        self.closed = True
        self._cancel_keepalive()
        self._carrier.write(codec.close_frame(code, reason))
        self._close_timer = self._loop.call_later(self._limits.close_timeout, self._carrier.close)

    def abort(self) -> None:
        self._carrier.abort()

    # == carrier events ======================================================================
    def feed(self, data: bytes) -> None:
        """Inbound bytes from the carrier."""
        if self._input_ended:
            return
        codec = self._codec
        if codec is None:
            self._hold_early(data)
            return
        self._last_seen = self._loop.time()
        codec.receive_data(data)  # calls back the FrameHandler methods below
        if self._messages:
            self._wake()
            if not self._read_paused and self._backlogged():
                self._pause_reading()

    def connection_lost(self) -> None:
        """The carrier is gone (a repeated call changes nothing)."""
        if self.disconnected:
            return
        self.disconnected = True
        self.closed = True
        self._input_ended = True
        self._early = None
        if self.close_code is None:
            self.close_code = ABNORMAL_CLOSURE
        self._cancel_keepalive()
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        if self._codec is not None:
            self._codec.release_handler()
        self._wake()

    def writable(self) -> None:
        """The peer caught up with our writes: answer the ping held back meanwhile."""
        payload = self._pending_pong
        codec = self._codec
        if payload is None or codec is None or self._carrier.write_paused:
            return
        self._pending_pong = None
        if codec.state is _OPEN:
            self._carrier.write(codec.pong(payload))

    def shutdown(self) -> None:
        """The worker stops: close an open session with 1001 (an unanswered one on accept)."""
        self._shutting_down = True
        if self.accepted and not self.closed:
            self.close(GOING_AWAY, "Server shutting down")

    # == inbound internals =====================================================================
    def _hold_early(self, data: bytes) -> None:
        early = self._early
        if early is None:
            return  # rejected: nothing more will be read
        early += data
        if len(early) > self._limits.max_pre_accept_bytes:
            self._pause_reading()

    # == FrameHandler: what the codec reports while it parses =================================
    def message_received(self, data: str | bytes) -> None:
        self._messages.append(data)
        self._queued_bytes += len(data)

    def ping_received(self, payload: bytes) -> None:
        codec = self._codec
        if codec is None or codec.state is not _OPEN:
            return
        if self._carrier.write_paused:
            # A peer that pings and does not read would have its pongs pile up without
            # bound: only the latest is kept, answered once it reads (RFC 6455 §5.5.3).
            self._pending_pong = payload
            return
        self._carrier.write(codec.pong(payload))

    def pong_received(self, payload: bytes) -> None:
        """Nothing to do: any inbound bytes count as life (``_last_seen``)."""

    def close_received(self, code: int, reason: str) -> None:
        codec = self._codec
        if codec is not None and codec.state is _REMOTE_CLOSING:
            # The peer starts the close handshake: echo its code (none if it sent none).
            self._carrier.write(codec.close_frame(code, reason))
        self._end(code, reason)  # else the peer answered our close

    def protocol_failed(self, code: int, reason: str) -> None:
        self._fail(code, reason)

    def _end(self, code: int, reason: str) -> None:
        """The close handshake is complete: the carrier can go."""
        if self.close_code is None:
            self.close_code = code
            self.close_reason = reason
        self._finish_input()
        self._carrier.close()

    def _fail(self, code: int, reason: str) -> None:
        """Close because of the peer: send ``code`` and end without waiting for an answer."""
        codec = self._codec
        if codec is not None and codec.state is _OPEN:
            self._carrier.write(codec.close_frame(code, reason))
        if self.close_code is None:
            self.close_code = code
            self.close_reason = reason
        self._finish_input()
        self._carrier.close()

    def _finish_input(self) -> None:
        self._input_ended = True
        self.closed = True
        self._cancel_keepalive()
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- read flow control --------------------------------------------------------------------
    def _backlogged(self) -> bool:
        limits = self._limits
        return (
            self._queued_bytes > limits.max_queued_bytes
            or len(self._messages) >= limits.max_queued_messages
        )

    def _drained_to_half(self) -> bool:
        limits = self._limits
        return (
            self._queued_bytes <= limits.max_queued_bytes // 2
            and len(self._messages) < limits.max_queued_messages // 2
        )

    def _pause_reading(self) -> None:
        if not self._read_paused:
            self._read_paused = True
            self._carrier.pause_reading()

    def _resume_reading(self) -> None:
        if self._read_paused:
            self._read_paused = False
            self._carrier.resume_reading()

    # -- keepalive ------------------------------------------------------------------------------
    def _arm_keepalive(self, when: float) -> None:
        self._keepalive = self._loop.call_at(when, self._on_keepalive)

    def _cancel_keepalive(self) -> None:
        if self._keepalive is not None:
            self._keepalive.cancel()
            self._keepalive = None

    def _on_keepalive(self) -> None:
        self._keepalive = None
        codec = self._codec
        interval = self._limits.ping_interval
        if self.closed or codec is None or not interval:
            return
        now = self._loop.time()
        if self._read_paused:
            self._last_seen = now  # we stopped reading: the silence is ours, not the peer's
        ping_at = self._ping_sent_at
        if ping_at is not None:
            deadline = ping_at + self._limits.pong_timeout
            if self._last_seen >= ping_at:
                self._ping_sent_at = None  # the peer is alive
            elif now + _TIMER_SLACK >= deadline:
                self._fail(INTERNAL_ERROR, "keepalive ping timeout")
                return
            else:
                self._arm_keepalive(deadline)
                return
        idle_until = self._last_seen + interval
        if now + _TIMER_SLACK < idle_until:
            self._arm_keepalive(idle_until)
            return
        self._ping_sent_at = now
        self._carrier.write(codec.ping(b""))
        self._arm_keepalive(now + self._limits.pong_timeout)


#: Response fields the handshake sets itself (the subprotocol comes as an argument).
_HANDSHAKE_FIELDS = frozenset(
    {
        b"connection",
        b"upgrade",
        b"sec-websocket-accept",
        b"sec-websocket-extensions",
        b"content-length",
        b"transfer-encoding",
    }
)


def _lower(name: object) -> bytes:
    """A header name lower-cased; ``b""`` for a name of another type (kept, for the
    carrier to refuse with its usual error)."""
    return bytes(name).lower() if isinstance(name, (bytes, bytearray)) else b""


def _as_bytes(data: object) -> bytes:
    """What ``send_bytes`` accepts besides ``bytes``, as ``bytes``."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"send_bytes() needs bytes, got {type(data).__name__}")
    return bytes(data)


def _check_close_reason(reason: str) -> None:
    try:
        reason.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("WebSocket close reason is not valid UTF-8 text") from None
