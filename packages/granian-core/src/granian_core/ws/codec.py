"""The face every WebSocket frame codec shows the session.

A session drives a :class:`Codec`: it feeds the bytes it receives with
``receive_data`` and learns about whole messages, pings, pongs, the peer's close
frame and protocol violations through the :class:`FrameHandler` callbacks; it
asks the codec for the bytes of each frame it sends. ``state`` follows the close
handshake (:class:`WSState`). Two codecs implement it: :mod:`.frames` (ours, no
extension) and :mod:`.wsproto_codec` (permessage-deflate).
"""

from __future__ import annotations

import enum
from typing import Protocol

__all__ = ["Codec", "FrameHandler", "WSState", "join_fragments"]


class WSState(enum.Enum):
    """Where the close handshake stands (the data direction needs nothing more)."""

    OPEN = 1
    #: We sent a close frame; the peer's answer is pending.
    LOCAL_CLOSING = 2
    #: The peer sent a close frame first; ours (the echo) is pending.
    REMOTE_CLOSING = 3
    #: Both close frames are through.
    CLOSED = 4


class FrameHandler(Protocol):
    """What a codec reports while it parses (the session implements it)."""

    def message_received(self, data: str | bytes) -> None:
        """A whole data message: ``str`` for text, ``bytes`` for binary."""

    def ping_received(self, payload: bytes) -> None:
        """A ping; answering it is the handler's call."""

    def pong_received(self, payload: bytes) -> None:
        """A pong."""

    def close_received(self, code: int, reason: str) -> None:
        """The peer's close frame (code 1005 when it had none); ``state`` is updated."""

    def protocol_failed(self, code: int, reason: str) -> None:
        """The peer broke the protocol: close with ``code`` (1002, 1007, 1009)."""


class Codec(Protocol):
    """The frame layer a session drives; see the module docstring."""

    @property
    def state(self) -> WSState: ...

    def receive_data(self, data: bytes) -> None: ...

    def text_frame(self, data: str) -> bytes: ...

    def binary_frame(self, data: bytes) -> bytes: ...

    def ping(self, payload: bytes) -> bytes: ...

    def pong(self, payload: bytes) -> bytes: ...

    def close_frame(self, code: int | None, reason: str = "") -> bytes:
        """Our close frame (empty for ``None``/1005); moves ``state`` on."""

    def release_handler(self) -> None:
        """No input will follow (the transport is gone): let the handler go.

        The handler (the session) refers to its codec; dropping the reference back
        lets reference counting free both. ``receive_data`` must not be called after.
        """


def join_fragments(parts: list[str | bytes]) -> str | bytes:
    """A fragmented message from its parts: all ``str`` (text) or all ``bytes`` (binary)."""
    if type(parts[0]) is str:
        return "".join(parts)  # type: ignore[arg-type]
    return b"".join(parts)  # type: ignore[arg-type]
