"""The two ways a ``ServerConnection`` refuses: the peer's fault, or the caller's."""

from __future__ import annotations

__all__ = ["ProtocolError", "StreamClosedError"]


class ProtocolError(Exception):
    """The peer broke the protocol; a GOAWAY with ``error_code`` is queued to send."""

    def __init__(self, error_code: int, message: str) -> None:
        super().__init__(message)
        self.error_code = error_code


class StreamClosedError(Exception):
    """A frame was to be sent on a stream that can no longer carry it."""

    def __init__(self, stream_id: int) -> None:
        super().__init__(f"Stream {stream_id} is closed")
        self.stream_id = stream_id
