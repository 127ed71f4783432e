"""RSGI WebSocket names (``granian.rsgi`` re-exports them).

The core does not dispatch WebSocket sessions yet, so the protocol and
transport exist for imports and typing only: every method raises
:class:`RSGIProtocolError` saying so.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any, NoReturn

from .errors import RSGIProtocolError

__all__ = [
    "WebsocketMessage",
    "WebsocketMessageType",
    "WebsocketProtocol",
    "WebsocketTransport",
]

_NOT_AVAILABLE = "RSGI protocol error: WebSocket support is not available in granian-rsgi yet"


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


def _not_available() -> NoReturn:
    raise RSGIProtocolError(_NOT_AVAILABLE)


class WebsocketTransport:
    """Transport returned by ``WebsocketProtocol.accept()`` (not available yet)."""

    __slots__ = ()

    async def receive(self) -> WebsocketMessage:
        _not_available()

    async def send_bytes(self, data: bytes) -> None:
        _not_available()

    async def send_str(self, data: str) -> None:
        _not_available()


class WebsocketProtocol:
    """``protocol`` of an RSGI WebSocket call (not available yet)."""

    __slots__ = ("_session",)

    def __init__(self, session: Any) -> None:
        self._session = session

    async def accept(self) -> WebsocketTransport:
        _not_available()

    def close(self, status: int | None = None) -> None:
        _not_available()
