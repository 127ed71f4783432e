"""The main process's side of ``--metrics``: its counters, the workers' rows, the exporter.

The supervisor owns one :class:`MainMetrics`. Spawns and respawns are always
counted; the shared rows and the exporter exist only while ``--metrics`` is on
(not with ``--reload``, not on Windows, as in Granian).
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

from .metrics import SupervisorMetrics, render
from .metrics_http import MetricsExporter
from .metrics_slots import MetricsTable

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext

    from granian_core.config import ServerConfig

    from .metrics_slots import MetricsSlot

__all__ = ["MainMetrics"]

logger = logging.getLogger("_granian")


class MainMetrics:
    """Counters always; the exporter and the workers' shared rows once :meth:`start`\\ ed."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        #: Spawns and respawns by cause: always counted, exported with --metrics.
        self.counters = SupervisorMetrics()
        self._table: MetricsTable | None = None
        self._exporter: MetricsExporter | None = None

    @property
    def wanted(self) -> bool:
        """--metrics, unless --reload (the supervisor logs it) or Windows disable it."""
        config = self.config
        if not config.metrics_enabled or config.reload:
            return False
        if sys.platform == "win32":
            logger.warning("Metrics are not available in Windows, ignoring.")
            return False
        return True

    def start(self, context: BaseContext) -> None:
        """The workers' shared rows and the exporter. Called before any worker is spawned,
        so an address in use stops the server with one line and no worker to clean up."""
        config = self.config
        self._table = MetricsTable(context, config.workers)
        exporter = MetricsExporter(config.metrics_address, config.metrics_port, self._render)
        exporter.start()
        self._exporter = exporter
        logger.debug("Metrics exporter listening at: %s:%d", config.metrics_address, exporter.port)

    def stop(self) -> None:
        if self._exporter is not None:
            self._exporter.stop()
            self._exporter = None

    def claim(self, worker_id: int) -> MetricsSlot | None:
        """The shared row a (re)spawned worker writes to; None without --metrics."""
        if self._table is None:
            return None
        return self._table.claim(worker_id, self.config.metrics_scrape_interval)

    def clear(self, worker_id: int) -> None:
        """A worker died: its series are absent until its successor reports."""
        if self._table is not None:
            self._table.clear(worker_id)

    def _render(self) -> bytes:
        """The exposition text (called on the exporter's threads)."""
        table = self._table
        rows = table.rows() if table is not None else ()
        return render(self.counters.values(), rows)
