"""A worker's side of ``--metrics``: read its counters, copy them to its shared row.

Every ``--metrics-scrape-interval`` (and once as soon as the worker serves) the
worker's loop builds one row of values (``WORKER_FAMILIES`` order) and writes it
to its :class:`~.metrics_slots.MetricsSlot`. Nothing here runs per request.

Where each value comes from:

- ``worker_lifetime``: seconds since the worker started serving;
- ``connections_active``: the connection registry (``WorkerState.connections``);
- ``connections_handled``, ``requests_handled``: :class:`~.metrics.WorkerMetrics`;
- ``connections_err``: the acceptors (failed accepts and connection set-ups);
- ``static_requests_*``: the static files table (requests its routes owned, 404s);
- ``blocking_*``: the blocking-thread pool (``--blocking-threads``), when it exists.

A component that does not exist in this worker (no static route, no pool) yields zeros.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from granian_core.blocking import BlockingPool
    from granian_core.interface import Interface

    from .acceptor import Acceptor
    from .metrics_slots import MetricsSlot
    from .state import WorkerState

__all__ = ["MetricsPublisher", "WorkerSampler"]

_MICROSECONDS = 1_000_000


class WorkerSampler:
    """Builds a worker's row of values from the objects that count them."""

    def __init__(
        self, state: WorkerState, acceptors: Sequence[Acceptor], interface: Interface
    ) -> None:
        self.state = state
        self.acceptors = acceptors
        self.interface = interface
        self.started_at = time.monotonic()

    def sample(self) -> list[int]:
        state = self.state
        counters = state.metrics
        return [
            int(time.monotonic() - self.started_at),
            len(state.connections),
            counters.connections_handled,
            self._connection_errors(),
            counters.requests_handled,
            *self._static_requests(),
            *self._blocking(),
        ]

    def _connection_errors(self) -> int:
        return sum(acceptor.failed for acceptor in self.acceptors)

    def _static_requests(self) -> tuple[int, int]:
        from granian_core.static import StaticFilesInterface

        interface = self.interface
        if not isinstance(interface, StaticFilesInterface):
            return 0, 0  # no static route in this worker
        files = interface.files
        return files.requests, files.not_found

    def _blocking(self) -> tuple[int, int, int, int]:
        pool: BlockingPool | None = self.interface.context._blocking_pool
        if pool is None:
            return 0, 0, 0, 0  # no blocking thread was ever needed (async interfaces)
        idle = int(pool.idle_seconds * _MICROSECONDS)
        busy = int(pool.busy_seconds * _MICROSECONDS)
        return pool.threads, pool.queued, idle, busy


class MetricsPublisher:
    """Copies a sampler's row to a slot now, then every ``slot.interval`` seconds."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, slot: MetricsSlot, sampler: WorkerSampler
    ) -> None:
        self.loop = loop
        self.slot = slot
        self.sampler = sampler
        self._timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self._tick()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _tick(self) -> None:
        if not self.slot.publish(self.sampler.sample()):
            self._timer = None  # a successor owns the row: nothing more to report
            return
        self._timer = self.loop.call_later(self.slot.interval, self._tick)
