"""The two RSGI exceptions (``granian.rsgi.ProtocolError`` / ``ProtocolClosed``)."""

from __future__ import annotations

__all__ = ["RSGIProtocolClosed", "RSGIProtocolError"]


class RSGIProtocolError(RuntimeError):
    """The application misused the RSGI API (e.g. read the body twice)."""

    def __init__(self, message: str = "RSGI protocol error") -> None:
        super().__init__(message)


class RSGIProtocolClosed(RuntimeError):
    """The transport is gone: the client disconnected or the response is over."""

    def __init__(self, message: str = "RSGI transport is closed") -> None:
        super().__init__(message)
