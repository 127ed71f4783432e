"""What a ``ServerConnection`` knows of its streams: the open ones, and how recent ones closed."""

from __future__ import annotations

__all__ = ["ENDED", "RESET_RECEIVED", "RESET_SENT", "ClosedStreams", "StreamState"]

#: How a closed stream closed (RFC 9113 §5.1 treats frames arriving after by cause).
RESET_SENT = 1  # in-flight frames are expected: ignored
RESET_RECEIVED = 2  # the peer knows: its frames are stream errors
ENDED = 3  # both sides sent END_STREAM: DATA or HEADERS are connection errors

#: How many closed streams are remembered (at least; at most twice as many).
CLOSED_STREAM_MEMORY = 1024


class StreamState:
    """An open stream: which sides are open, both windows, the declared body length."""

    __slots__ = ("expected", "local_open", "received", "recv_window", "remote_open", "send_window")

    def __init__(
        self, recv_window: int, send_window: int, expected: int | None, remote_open: bool
    ) -> None:
        self.recv_window = recv_window
        self.send_window = send_window
        self.expected = expected  # content-length, checked against the DATA received
        self.received = 0
        self.remote_open = remote_open
        self.local_open = True


class ClosedStreams:
    """Closed stream id → how it closed, for the last ``CLOSED_STREAM_MEMORY`` or more.

    Two generations: when the newer is full it becomes the older and the previous
    older is dropped whole (no per-stream eviction, no ordering to keep).
    """

    __slots__ = ("_newer", "_older")

    def __init__(self) -> None:
        self._newer: dict[int, int] = {}
        self._older: dict[int, int] = {}

    def add(self, stream_id: int, how: int) -> None:
        newer = self._newer
        newer[stream_id] = how
        if len(newer) >= CLOSED_STREAM_MEMORY:
            self._older = newer
            self._newer = {}

    def how(self, stream_id: int) -> int | None:
        """``RESET_SENT``, ``RESET_RECEIVED`` or ``ENDED``; None when not remembered."""
        how = self._newer.get(stream_id)
        return self._older.get(stream_id) if how is None else how
