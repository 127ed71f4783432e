"""Abuse counters for one HTTP/2 connection (sans-IO: the caller passes the time).

Each guard answers "has this connection crossed the line?"; the protocol then
sends GOAWAY(ENHANCE_YOUR_CALM) and closes that connection only.
"""

from __future__ import annotations

__all__ = ["ControlFrameGuard", "ResetRateGuard"]

#: Rapid reset (CVE-2023-44487): stream resets tolerated per window, per connection.
RESET_WINDOW_SECONDS = 10.0
MIN_RESETS_PER_WINDOW = 100
#: PING/SETTINGS flood (CVE-2019-9512/9515): ACKs queued behind a peer that does not read.
MAX_QUEUED_CONTROL_FRAMES = 1_000


class ResetRateGuard:
    """Counts stream resets (by the client, or refusals by us) in fixed time windows.

    A browser cancels a few streams now and then; a rapid-reset attacker opens and
    resets thousands per second, each costing us a request dispatch. The budget
    scales with ``max_concurrent_streams``: twice that many per 10 s window.
    """

    __slots__ = ("_count", "_window_start", "limit", "window")

    def __init__(self, max_concurrent_streams: int, window: float = RESET_WINDOW_SECONDS) -> None:
        self.limit = max(MIN_RESETS_PER_WINDOW, 2 * max_concurrent_streams)
        self.window = window
        self._window_start = float("-inf")
        self._count = 0

    def reset(self, now: float) -> bool:
        """Record one reset at ``now``; True when the connection is over its budget."""
        if now - self._window_start >= self.window:
            self._window_start = now
            self._count = 0
        self._count += 1
        return self._count > self.limit


class ControlFrameGuard:
    """Bounds PING/SETTINGS frames received while their ACKs cannot be written.

    The connection acknowledges PING and SETTINGS by itself, into our output. A peer that
    floods them and never reads makes that output pile up in the transport. The
    count restarts whenever the transport's buffer was found empty (or drained
    below its low-water mark): a peer that reads its ACKs is never penalised.
    """

    __slots__ = ("_queued", "limit")

    def __init__(self, limit: int = MAX_QUEUED_CONTROL_FRAMES) -> None:
        self.limit = limit
        self._queued = 0

    def drained(self) -> None:
        """The peer is reading: whatever was queued has gone out."""
        self._queued = 0

    def control_frame(self) -> bool:
        """One more ACK queued; True when the connection is over the bound."""
        self._queued += 1
        return self._queued > self.limit
