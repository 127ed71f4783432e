"""wsproto's frame layer as a :class:`~.codec.Codec`, for sessions with permessage-deflate.

Its extension hooks carry the bounded inflate and the size guard of :mod:`.deflate`;
fragments are joined here, and wsproto's states and close events are mapped onto
the codec face the session drives.
"""

from __future__ import annotations

from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Ping, Pong, TextMessage
from wsproto.extensions import Extension
from wsproto.frame_protocol import CloseReason

from granian_core.websocket import MESSAGE_TOO_BIG, NO_STATUS

from .codec import FrameHandler, WSState, join_fragments

__all__ = ["WsprotoCodec"]

_WSPROTO_STATES = {
    ConnectionState.OPEN: WSState.OPEN,
    ConnectionState.LOCAL_CLOSING: WSState.LOCAL_CLOSING,
    ConnectionState.REMOTE_CLOSING: WSState.REMOTE_CLOSING,
    ConnectionState.CLOSED: WSState.CLOSED,
}
#: Close reasons we word ourselves (wsproto's would read "error in extension").
_REASONS = {MESSAGE_TOO_BIG: "Message too big"}


class WsprotoCodec:
    """wsproto's frame layer with extensions (permessage-deflate), as a :class:`Codec`."""

    __slots__ = ("_handler", "_parts", "_ws")

    def __init__(self, handler: FrameHandler, extensions: list[Extension]) -> None:
        self._handler = handler
        self._ws = Connection(ConnectionType.SERVER, extensions)
        self._parts: list[str | bytes] = []

    @property
    def state(self) -> WSState:
        return _WSPROTO_STATES[self._ws.state]

    def release_handler(self) -> None:
        del self._handler

    def receive_data(self, data: bytes) -> None:
        ws = self._ws
        if ws.state is ConnectionState.CLOSED:
            return
        ws.receive_data(data)
        handler = self._handler
        for event in ws.events():
            kind = type(event)
            if kind is TextMessage or kind is BytesMessage:
                self._data(event)  # type: ignore[arg-type]
            elif kind is Ping:
                handler.ping_received(bytes(event.payload))  # type: ignore[attr-defined]
            elif kind is Pong:
                handler.pong_received(bytes(event.payload))  # type: ignore[attr-defined]
            elif kind is CloseConnection:
                self._close(event)  # type: ignore[arg-type]
                return

    def _data(self, event: TextMessage | BytesMessage) -> None:
        raw = event.data
        # wsproto's type allows a bytearray; it hands out bytes (no copy then).
        data: str | bytes = bytes(raw) if isinstance(raw, bytearray) else raw
        parts = self._parts
        if not event.message_finished:
            parts.append(data)
            return
        if parts:
            parts.append(data)
            data = join_fragments(parts)
            self._parts = []
        self._handler.message_received(data)

    def _close(self, event: CloseConnection) -> None:
        self._parts = []
        code = int(event.code)
        if self._ws.state in (ConnectionState.REMOTE_CLOSING, ConnectionState.CLOSED):
            self._handler.close_received(code, event.reason or "")
        else:  # wsproto failed to parse the input
            self._handler.protocol_failed(code, _REASONS.get(code, event.reason or ""))

    def text_frame(self, data: str) -> bytes:
        return self._ws.send(TextMessage(data=data))

    def binary_frame(self, data: bytes) -> bytes:
        return self._ws.send(BytesMessage(data=data))

    def ping(self, payload: bytes = b"") -> bytes:
        return self._ws.send(Ping(payload=payload))

    def pong(self, payload: bytes = b"") -> bytes:
        return self._ws.send(Pong(payload=payload))

    def close_frame(self, code: int | None, reason: str = "") -> bytes:
        if code is None or code == NO_STATUS:
            # wsproto sends an empty close only for this very member (it compares with ``is``).
            return self._ws.send(CloseConnection(code=CloseReason.NO_STATUS_RCVD))
        return self._ws.send(CloseConnection(code=code, reason=reason))
