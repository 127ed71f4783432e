"""RFC 8441: one WebSocket session on an HTTP/2 extended-CONNECT stream.

``H2Protocol`` advertises ``SETTINGS_ENABLE_CONNECT_PROTOCOL`` when the
interface serves WebSockets; a ``CONNECT`` stream with ``:protocol`` then
becomes an :class:`H2WebSocketStream` and :func:`open_session` checks the
handshake and dispatches a :class:`~granian_core.ws.session.CoreSession` on it.

The stream is an :class:`H2Exchange` (so it shares the send buffer, the
scheduler and the stream's flow control) that is also the session's
:class:`~granian_core.ws.carrier.Carrier`:

* accept → ``:status 200`` HEADERS without END_STREAM; reject → a whole response;
* WebSocket frames travel in DATA frames both ways;
* inbound bytes go to the session on arrival and their window credit is
  returned then; while the session has paused reading they stay queued on the
  stream with their credit withheld, so a slow application stalls only its own
  client, after one stream window;
* our close → END_STREAM; an abort → ``RST_STREAM(CANCEL)``; the client's
  END_STREAM is its EOF, and ``RST_STREAM``/``GOAWAY``/a lost connection are
  disconnects.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

from granian_core.exchange import ConnectionInfo, Headers, ResponseError
from granian_core.ws import limits as ws_limits
from granian_core.ws.handshake import HandshakeError, check_h2_connect
from granian_core.ws.session import CoreSession

from .exchange import H2Exchange
from .frames import CANCEL

if TYPE_CHECKING:
    import asyncio

    from granian_core.server.state import WorkerState

    from .exchange import StreamOwner
    from .headers import RequestHead

__all__ = ["H2WebSocketStream", "open_session"]

logger = logging.getLogger("_granian")

_TEXT_PLAIN: Final = (b"content-type", b"text/plain; charset=utf-8")
_WEBSOCKET: Final = "websocket"


def open_session(state: WorkerState, stream: H2WebSocketStream, protocol: str) -> None:
    """Check the extended CONNECT on ``stream`` and dispatch its session (or reject it).

    ``stream`` must already be registered with its ``H2Protocol`` (a rejection ends it).
    """
    if state.stopping:
        stream.send_reject(503, [_TEXT_PLAIN], b"Server shutting down")
        return
    if protocol != _WEBSOCKET:
        stream.send_reject(501, [_TEXT_PLAIN], b"Unsupported :protocol")
        return
    if stream.body_complete:
        stream.send_reject(400, [_TEXT_PLAIN], b"Extended CONNECT stream ended by the client")
        return
    try:
        handshake = check_h2_connect(stream.headers)
    except HandshakeError as exc:
        stream.send_reject(400, [_TEXT_PLAIN, *exc.headers], exc.reason.encode())
        return
    session = CoreSession(
        stream,
        state.loop,
        handshake,
        ws_limits.DEFAULT_LIMITS,
        conn=stream.conn,
        method=stream.method,
        http_version="2",
        raw_path=stream.raw_path,
        query_string=stream.query_string,
        headers=stream.headers,
        authority=stream.authority,
    )
    stream.session = session
    state.dispatch_session(session)


class H2WebSocketStream(H2Exchange):
    """An extended-CONNECT stream carrying one WebSocket session (its ``Carrier``)."""

    __slots__ = ("_abort_timer", "_close_timeout", "_gone", "_read_paused", "session")

    def __init__(
        self,
        owner: StreamOwner,
        conn: ConnectionInfo,
        stream_id: int,
        head: RequestHead,
        ended: bool,
    ) -> None:
        super().__init__(owner, conn, stream_id, head, ended)
        self.session: CoreSession | None = None
        self._read_paused = False
        self._gone = False  # the session was told the stream is over
        self._close_timeout = ws_limits.DEFAULT_LIMITS.close_timeout
        self._abort_timer: asyncio.TimerHandle | None = None

    # == called by H2Protocol ================================================================
    def feed(self, data: bytes, flow_length: int) -> None:
        session = self.session
        if session is None or self._read_paused or self._chunks:
            super().feed(data, flow_length)  # held, credit withheld, until resume_reading
            return
        self._owner.body_consumed(self, flow_length)
        self._deliver(session, data)

    def end_of_body(self) -> None:
        super().end_of_body()
        if not self._chunks:
            self._peer_ended()

    def lost(self) -> None:
        super().lost()
        self._stream_over()

    def on_send_done(self) -> None:
        super().on_send_done()
        self._stream_over()

    def shutdown(self) -> None:
        """The worker stops: the session closes with 1001 (the stream then ends)."""
        if self.session is not None:
            self.session.shutdown()

    def _wake_drain(self) -> None:
        # Called when send space frees up (the stream's buffer or the transport).
        super()._wake_drain()
        session = self.session
        if session is not None and not self.disconnected:
            session.writable()

    # == Carrier =================================================================================
    def send_accept(self, headers: Headers) -> None:
        if self.response_started:
            raise ResponseError("The WebSocket handshake was already answered")
        try:
            block, _ = self._owner.response_head(200, headers, None)
        except ValueError as exc:
            raise ResponseError(str(exc)) from None
        self.response_started = True
        self.status = 200
        if not self.disconnected:
            self._owner.send_head(self, block, False)

    def send_reject(self, status: int, headers: Headers, body: bytes) -> None:
        if isinstance(status, int) and 200 <= status < 300:
            # RFC 8441 5: a 2xx answer to the extended CONNECT opens the WebSocket.
            raise ResponseError(f"a WebSocket rejection cannot have status {status} (2xx)")
        try:
            self.send_response(status, headers, body)
        except ValueError as exc:
            raise ResponseError(str(exc)) from None

    def pause_reading(self) -> None:
        self._read_paused = True

    def resume_reading(self) -> None:
        if not self._read_paused:
            return
        self._read_paused = False
        chunks = self._chunks
        while chunks and not self._read_paused:
            session = self.session
            if session is None:
                return
            data, flow_length = chunks.popleft()
            self._owner.body_consumed(self, flow_length)
            self._deliver(session, data)
        if not chunks and self._remote_ended:
            self._peer_ended()

    def close(self) -> None:
        """END_STREAM once the queued frames are out; a reset if they never get out."""
        if self.response_complete or self.disconnected:
            return
        if not self.response_started:
            self.abort()
            return
        self.end_response()
        if not self.sender.closed:  # frames still wait for window: do not wait forever
            self._abort_timer = self._owner.loop.call_later(self._close_timeout, self.abort)

    def abort(self) -> None:
        if self.disconnected:
            return
        self._owner.reset(self, CANCEL)
        self.lost()

    # == internals ===============================================================================
    def _deliver(self, session: CoreSession, data: bytes) -> None:
        try:
            session.feed(data)
        except Exception:  # a bug must cost this stream only, never the connection
            logger.exception("WebSocket stream failed")
            self.abort()

    def _peer_ended(self) -> None:
        """The client's END_STREAM: its EOF, which ends the session as on HTTP/1.1."""
        self._session_gone()
        self.close()

    def _stream_over(self) -> None:
        if self._abort_timer is not None:
            self._abort_timer.cancel()
            self._abort_timer = None
        self._session_gone()

    def _session_gone(self) -> None:
        if not self._gone:
            self._gone = True
            session = self.session
            if session is not None:
                session.connection_lost()
                self.session = None  # it refers to this stream: no cycle left behind
