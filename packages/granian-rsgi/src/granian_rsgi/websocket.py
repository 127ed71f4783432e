"""The RSGI WebSocket protocol and transport over a core ``WebSocketSession``.

``accept()`` sends the 101 and returns the transport; ``close(status)`` before
it answers the handshake with HTTP ``status`` (403 unless a valid HTTP status
is given), after it starts the close handshake with ``status`` as the close
code (1000 when ``None`` or invalid; Granian sends none, a defect). Incoming
messages are kind 1 (bytes), 2 (str) or 0 (closed by the client, ``data``
``None``); a connection that dropped without a close frame raises
``RSGIProtocolClosed``. The core closes a session the app leaves open (1000),
answers an unanswered handshake with 403, and handles errors (500 / 1011).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import IntEnum
from typing import Any

from granian_core.websocket import (
    ABNORMAL_CLOSURE,
    NORMAL_CLOSURE,
    ClientDisconnected,
    WebSocketSession,
    WebSocketStateError,
    is_valid_close_code,
)

from .errors import RSGIProtocolClosed, RSGIProtocolError
from .scope import WebsocketScope

__all__ = [
    "WebsocketMessage",
    "WebsocketMessageType",
    "WebsocketProtocol",
    "WebsocketTransport",
    "run_websocket",
]

#: ``async def app(scope, protocol)`` for a WebSocket call.
RSGIWebsocketApp = Callable[[WebsocketScope, "WebsocketProtocol"], Awaitable[Any]]
BytesLike = bytes | bytearray | memoryview

_REJECT_DEFAULT = 403


class WebsocketMessageType(IntEnum):
    close = 0
    bytes = 1
    string = 2


class WebsocketMessage:
    """One incoming message: ``kind`` 0 (closed by client), 1 (bytes) or 2 (str)."""

    __slots__ = ("data", "kind")

    def __init__(self, kind: int, data: bytes | str | None = None) -> None:
        self.kind = kind
        self.data = data

    def __repr__(self) -> str:
        return f"WebsocketMessage(kind={self.kind!r}, data={self.data!r})"


_CLOSED_MESSAGE_KIND = int(WebsocketMessageType.close)
_BYTES_KIND = int(WebsocketMessageType.bytes)
_STRING_KIND = int(WebsocketMessageType.string)


class WebsocketTransport:
    """Returned by ``WebsocketProtocol.accept()``: one reader, any number of senders."""

    __slots__ = ("_protocol", "_receiving", "_session")

    def __init__(self, protocol: WebsocketProtocol, session: WebSocketSession) -> None:
        self._protocol = protocol
        self._session = session
        self._receiving = False

    async def receive(self) -> WebsocketMessage:
        if self._receiving:
            raise RSGIProtocolError()
        self._receiving = True
        try:
            message = await self._session.receive()
        except ClientDisconnected:
            raise RSGIProtocolClosed() from None
        finally:
            self._receiving = False
        if isinstance(message, bytes):
            return WebsocketMessage(_BYTES_KIND, message)
        if isinstance(message, str):
            return WebsocketMessage(_STRING_KIND, message)
        if self._session.close_code == ABNORMAL_CLOSURE:
            raise RSGIProtocolClosed()  # dropped without a close frame
        return WebsocketMessage(_CLOSED_MESSAGE_KIND, None)

    async def send_bytes(self, data: BytesLike) -> None:
        if self._protocol._closed:
            raise RSGIProtocolError()
        if type(data) is not bytes:
            data = bytes(memoryview(data))
        try:
            await self._session.send_bytes(data)
        except ClientDisconnected:
            raise RSGIProtocolClosed() from None

    async def send_str(self, data: str) -> None:
        if self._protocol._closed:
            raise RSGIProtocolError()
        if type(data) is not str:
            raise TypeError(f"send_str() needs a str, got {type(data).__name__}")
        try:
            await self._session.send_text(data)
        except ClientDisconnected:
            raise RSGIProtocolClosed() from None


class WebsocketProtocol:
    """``protocol`` of an RSGI WebSocket call."""

    __slots__ = ("_accepted", "_closed", "_session")

    def __init__(self, session: WebSocketSession) -> None:
        self._session = session
        # Not the transport itself: it refers to this protocol, and a cycle would keep
        # the session and its buffers alive until the collector ran.
        self._accepted = False
        self._closed = False

    async def accept(self) -> WebsocketTransport:
        """Complete the upgrade. A second call, or a client already gone, is a protocol error."""
        if self._accepted or self._closed:
            raise RSGIProtocolError()
        try:
            self._session.accept()
        except (ClientDisconnected, WebSocketStateError):
            raise RSGIProtocolError() from None
        self._accepted = True
        return WebsocketTransport(self, self._session)

    def close(self, status: int | None = None) -> None:
        """Reject (before accept) or close (after); only the first call counts."""
        if self._closed:
            return
        self._closed = True
        session = self._session
        if session.status == 0:
            valid = isinstance(status, int) and 200 <= status <= 599
            session.reject(status if valid and status else _REJECT_DEFAULT, [], b"")
        elif session.accepted and not session.closed:
            valid = status is not None and is_valid_close_code(status)
            session.close(status if valid and status else NORMAL_CLOSURE)


async def run_websocket(app: RSGIWebsocketApp, session: WebSocketSession) -> None:
    """Serve one WebSocket call; the core finishes what the app leaves open."""
    await app(WebsocketScope(session), WebsocketProtocol(session))
