"""Per-worker metric rows in shared memory: written by workers, read by the exporter.

The supervisor creates one ``int64`` array before spawning anything; worker N owns
row N. A row starts with two header cells, then the values in ``WORKER_FAMILIES``
order:

- ``generation``: bumped by the supervisor each time it spawns a worker for the
  row. A worker writes only while the generation is its own, so during a rolling
  respawn the old worker stops reporting as soon as its successor is spawned.
- ``published``: 1 once the row holds a worker's values; the supervisor resets it
  when the worker dies, so a crashed worker's series vanish until its successor
  reports (as in Granian).

No lock: each cell is written by one process at a time, and a scrape that reads a
row while it is rewritten mixes two consecutive snapshots of the same worker.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.context import BaseContext
from typing import TYPE_CHECKING

from .metrics import WORKER_FAMILIES

if TYPE_CHECKING:
    Cells = ctypes.Array[ctypes.c_int64]

__all__ = ["MetricsSlot", "MetricsTable"]

_GENERATION = 0
_PUBLISHED = 1
_HEADER = 2
ROW_WIDTH = _HEADER + len(WORKER_FAMILIES)


@dataclass
class MetricsSlot:
    """A worker's row; crosses to the worker in its ``WorkerSpec`` (fork or spawn)."""

    cells: Cells
    base: int
    generation: int
    #: Seconds between two copies (``--metrics-scrape-interval``).
    interval: float

    def publish(self, values: Sequence[int]) -> bool:
        """Copy ``values`` into the row; False once a successor owns it (nothing written)."""
        cells, base = self.cells, self.base
        if cells[base + _GENERATION] != self.generation:
            return False
        start = base + _HEADER
        cells[start : start + len(values)] = list(values)
        cells[base + _PUBLISHED] = 1
        return True


class MetricsTable:
    """The supervisor's side: one row per worker id (1..workers)."""

    def __init__(self, context: BaseContext, workers: int) -> None:
        self.workers = workers
        self.cells: Cells = context.RawArray(ctypes.c_int64, workers * ROW_WIDTH)

    def claim(self, worker_id: int, interval: float) -> MetricsSlot:
        """Hand worker ``worker_id``'s row to a new process (the previous one stops writing)."""
        base = self._base(worker_id)
        generation = self.cells[base + _GENERATION] + 1
        self.cells[base + _GENERATION] = generation
        return MetricsSlot(self.cells, base, generation, interval)

    def clear(self, worker_id: int) -> None:
        """The worker died: drop its series until a successor reports."""
        self.cells[self._base(worker_id) + _PUBLISHED] = 0

    def rows(self) -> Iterator[tuple[int, list[int]]]:
        """``(worker_id, values)`` for every row a live worker has published."""
        cells = self.cells
        for worker_id in range(1, self.workers + 1):
            base = self._base(worker_id)
            if cells[base + _PUBLISHED]:
                yield worker_id, cells[base + _HEADER : base + ROW_WIDTH]

    def _base(self, worker_id: int) -> int:
        if not 1 <= worker_id <= self.workers:
            raise ValueError(f"no metrics row for worker-{worker_id}")
        return (worker_id - 1) * ROW_WIDTH
