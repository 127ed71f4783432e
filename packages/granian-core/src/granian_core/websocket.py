"""The WebSocket session contract (framing lives in the core; adapters map it).

Placeholder until the WebSocket issue lands: the core does not yet dispatch
WebSocket sessions, and adapters must not rely on this class's shape.
"""

from __future__ import annotations

import abc

__all__ = ["WebSocketSession"]


class WebSocketSession(abc.ABC):
    """One upgraded WebSocket connection (HTTP/1.1 Upgrade or HTTP/2 CONNECT)."""

    __slots__ = ()
