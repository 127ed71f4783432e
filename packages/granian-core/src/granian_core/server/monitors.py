"""When a healthy worker is due for a graceful respawn: its lifetime, or its memory.

A monitor is asked by the supervisor when it next needs to look
(:meth:`next_check_at`) and, once that time has come, which workers it wants
respawned (:meth:`due`). Monitors never touch processes: the supervisor does
the rolling respawn. Both are disabled with ``--reload``, as in Granian.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from granian_core.config import ServerConfig

from .rss import read_rss

__all__ = ["LifetimeMonitor", "MemoryMonitor", "Monitored", "RespawnMonitor", "build_monitors"]

logger = logging.getLogger("_granian")

_MIB = 1024 * 1024


class Monitored(Protocol):
    """What a monitor needs to know about a running worker."""

    @property
    def worker_id(self) -> int: ...

    @property
    def pid(self) -> int | None: ...

    @property
    def started_at(self) -> float: ...


class RespawnMonitor(Protocol):
    def next_check_at(self, workers: Sequence[Monitored]) -> float | None:
        """The ``time.monotonic()`` at which :meth:`due` may have something to say."""

    def due(self, workers: Sequence[Monitored], now: float) -> list[int]:
        """Ids of the workers to respawn now (each is logged with the reason)."""


class LifetimeMonitor:
    """``--workers-lifetime``: a worker is respawned once it has lived ``seconds``."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def next_check_at(self, workers: Sequence[Monitored]) -> float | None:
        if not workers:
            return None
        return min(worker.started_at for worker in workers) + self.seconds

    def due(self, workers: Sequence[Monitored], now: float) -> list[int]:
        expired = [w.worker_id for w in workers if now >= w.started_at + self.seconds]
        for worker_id in expired:
            logger.info("worker-%d lifetime expired, gracefully respawning..", worker_id)
        return expired


class MemoryMonitor:
    """``--workers-max-rss``: sample every worker's RSS each ``interval`` seconds; a worker
    over the limit for ``samples`` consecutive samples is respawned."""

    def __init__(
        self,
        limit_mib: int,
        samples: int,
        interval: float,
        reader: Callable[[int], int | None] = read_rss,
    ) -> None:
        self.limit = limit_mib * _MIB
        self.samples = samples
        self.interval = interval
        self.reader = reader
        self._next_sample_at = time.monotonic() + interval
        #: Consecutive over-limit samples, by PID (a respawned worker starts from zero).
        self._over_limit: dict[int, int] = {}

    def next_check_at(self, workers: Sequence[Monitored]) -> float | None:
        return self._next_sample_at

    def due(self, workers: Sequence[Monitored], now: float) -> list[int]:
        if now < self._next_sample_at:
            return []
        self._next_sample_at = now + self.interval
        usage = self._sample(workers)
        logger.debug("Collected resource usages for workers: %s", usage)
        counts: dict[int, int] = {}
        respawn: list[int] = []
        for worker in workers:
            if worker.pid not in usage:
                continue  # gone: its exit is the supervisor's business
            over = usage[worker.pid] >= self.limit
            count = self._over_limit.get(worker.pid, 0) + 1 if over else 0
            if count < self.samples:
                counts[worker.pid] = count
                continue
            logger.info("worker-%d RSS over threshold, gracefully respawning..", worker.worker_id)
            respawn.append(worker.worker_id)
        self._over_limit = counts
        return respawn

    def _sample(self, workers: Sequence[Monitored]) -> dict[int, int]:
        """RSS in bytes by PID, for the workers still alive."""
        usage: dict[int, int] = {}
        for worker in workers:
            rss = None if worker.pid is None else self.reader(worker.pid)
            if rss is not None and worker.pid is not None:
                usage[worker.pid] = rss
        return usage


def build_monitors(config: ServerConfig) -> list[RespawnMonitor]:
    """The monitors ``config`` asks for (none with ``--reload``, which disables both)."""
    if config.reload:
        return []
    monitors: list[RespawnMonitor] = []
    if config.workers_lifetime is not None:
        monitors.append(LifetimeMonitor(config.workers_lifetime))
    if config.workers_max_rss is not None:
        monitors.append(
            MemoryMonitor(config.workers_max_rss, config.rss_samples, config.rss_sample_interval)
        )
    return monitors
