"""RSGI typing helpers and protocol classes (``granian.rsgi``), from granian-rsgi."""

from granian_rsgi import (
    Headers,
    HTTPProtocol,
    HTTPStreamTransport,
    ProtocolClosed,
    ProtocolError,
    Scope,
    WebsocketMessage,
    WebsocketMessageType,
    WebsocketProtocol,
    WebsocketTransport,
)

__all__ = [
    "HTTPProtocol",
    "HTTPStreamTransport",
    "Headers",
    "ProtocolClosed",
    "ProtocolError",
    "Scope",
    "WebsocketMessage",
    "WebsocketMessageType",
    "WebsocketProtocol",
    "WebsocketTransport",
]
