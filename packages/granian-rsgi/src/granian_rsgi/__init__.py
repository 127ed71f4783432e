"""RSGI 1.6 adapter for granian-py: the ``rsgi`` interface.

Public names match ``granian.rsgi``: ``Scope``, ``Headers``, ``HTTPProtocol``,
``HTTPStreamTransport``, the WebSocket classes, ``ProtocolError`` and
``ProtocolClosed`` (also under their native names ``RSGIProtocolError`` and
``RSGIProtocolClosed``), and ``RSGIInterface``.
"""

from __future__ import annotations

from .errors import RSGIProtocolClosed, RSGIProtocolError
from .headers import Headers
from .interface import RSGIInterface
from .protocol import HTTPProtocol, HTTPStreamTransport
from .scope import Scope
from .websocket import (
    WebsocketMessage,
    WebsocketMessageType,
    WebsocketProtocol,
    WebsocketTransport,
)

ProtocolError = RSGIProtocolError
ProtocolClosed = RSGIProtocolClosed

__all__ = [
    "HTTPProtocol",
    "HTTPStreamTransport",
    "Headers",
    "ProtocolClosed",
    "ProtocolError",
    "RSGIInterface",
    "RSGIProtocolClosed",
    "RSGIProtocolError",
    "Scope",
    "WebsocketMessage",
    "WebsocketMessageType",
    "WebsocketProtocol",
    "WebsocketTransport",
]
