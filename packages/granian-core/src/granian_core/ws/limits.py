"""The limits and timers of WebSocket sessions, with their defaults.

Granian has no options for these; the defaults follow the peers (Hypercorn,
Uvicorn and the ``websockets`` package use the same orders of magnitude).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_LIMITS", "WSLimits"]

#: Largest message accepted, after decompression: bigger ones close the session with 1009.
MAX_MESSAGE_SIZE = 16 * 1024 * 1024
#: Unread whole messages the session holds before it stops reading the socket.
MAX_QUEUED_BYTES = 1024 * 1024
MAX_QUEUED_MESSAGES = 128
#: Bytes a client may send after its upgrade request before it is accepted.
MAX_PRE_ACCEPT_BYTES = 64 * 1024
#: Seconds without any inbound traffic before the server sends a ping.
PING_INTERVAL = 20.0
#: Seconds the peer has to show life after a ping: then the session closes with 1011.
PONG_TIMEOUT = 20.0
#: Seconds the peer has to answer a server close frame before the connection is dropped.
CLOSE_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class WSLimits:
    """Limits of one session. ``ping_interval=None`` turns the keepalive off."""

    max_message_size: int = MAX_MESSAGE_SIZE
    max_queued_bytes: int = MAX_QUEUED_BYTES
    max_queued_messages: int = MAX_QUEUED_MESSAGES
    max_pre_accept_bytes: int = MAX_PRE_ACCEPT_BYTES
    ping_interval: float | None = PING_INTERVAL
    pong_timeout: float = PONG_TIMEOUT
    close_timeout: float = CLOSE_TIMEOUT
    #: Offer permessage-deflate when the client asks for it.
    compression: bool = True


#: What new sessions use (read at session creation).
DEFAULT_LIMITS = WSLimits()
