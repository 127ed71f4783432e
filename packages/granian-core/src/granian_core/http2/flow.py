"""Inbound flow control: when to hand window credit back to the client (sans-IO).

Two levels, two rules (see docs/http2.md):

* **Stream** credit is released only when the application has *consumed* body
  bytes, so a stream whose handler does not read stops its own client after one
  stream window, and nothing else.
* **Connection** credit is released as soon as bytes arrive, as long as the
  connection's unread bytes fit in a budget (at least one stream window), and
  only on consumption beyond that. One slow reader therefore never starves the
  other streams of connection window, while the memory held per connection stays
  under ``budget + connection window``.

Credit is batched (a quarter of a window at a time) to keep WINDOW_UPDATE frames
and connection calls rare. No deadlock follows from batching: a peer blocked on a window
has every unreleased byte either unread (held back on purpose) or consumed, and
consumed bytes are released once they reach the batch size, which is at most a
quarter of the window the peer is blocked on.
"""

from __future__ import annotations

__all__ = ["AdaptiveWindow", "ConnectionCredit", "StreamCredit"]


class ConnectionCredit:
    """Connection-level credit: released on receipt while unread bytes fit the budget."""

    __slots__ = ("batch", "budget", "unread", "unreleased")

    def __init__(self, window: int, budget: int) -> None:
        self.budget = budget
        self.batch = max(1, window // 4)
        self.unread = 0  # received, not yet consumed by the application
        self.unreleased = 0  # received, window credit not yet returned

    def received(self, size: int) -> int:
        """``size`` flow-controlled bytes arrived; returns the credit to release now (or 0)."""
        self.unread += size
        self.unreleased += size
        return self._releasable()

    def consumed(self, size: int) -> int:
        """The application read (or the server discarded) ``size`` bytes; credit to release."""
        self.unread -= size
        return self._releasable()

    def resize(self, window: int, budget: int) -> None:
        self.budget = budget
        self.batch = max(1, window // 4)

    def _releasable(self) -> int:
        held = self.unread - self.budget
        credit = self.unreleased - held if held > 0 else self.unreleased
        if credit < self.batch:
            return 0
        self.unreleased -= credit
        return credit


class StreamCredit:
    """Stream-level credit: released only for bytes the application consumed."""

    __slots__ = ("pending",)

    def __init__(self) -> None:
        self.pending = 0

    def consumed(self, size: int, batch: int) -> int:
        self.pending += size
        if self.pending < batch:
            return 0
        credit, self.pending = self.pending, 0
        return credit


class AdaptiveWindow:
    """A simple bandwidth-delay-product estimator (``--http2-adaptive-window``).

    While body data flows, one probe PING is outstanding at a time; the bytes
    received between sending it and its ACK are one round trip's worth of data.
    When a round trip fills at least two thirds of the window, the window is the
    bottleneck: it doubles (at most to ``limit``). It never shrinks.
    """

    __slots__ = ("_probing", "_sampled", "limit", "window")

    def __init__(self, window: int, limit: int) -> None:
        self.window = window
        self.limit = limit
        self._probing = False
        self._sampled = 0

    def data_received(self, size: int) -> bool:
        """Count ``size`` bytes; True means: send a probe PING now."""
        if self._probing:
            self._sampled += size
            return False
        if self.window >= self.limit:
            return False
        self._probing = True
        self._sampled = size
        return True

    def probe_acked(self) -> int | None:
        """The probe's ACK arrived: the new window when it should grow, else None."""
        self._probing = False
        if self._sampled * 3 < self.window * 2:
            return None
        grown = min(self.limit, max(self.window * 2, self._sampled * 2))
        if grown <= self.window:
            return None
        self.window = grown
        return grown
