"""What the Prometheus exporter (``--metrics``) exports, and its text format.

The names, types and label are Granian's (prefix ``granian_``, per-worker series
labelled ``worker="N"``, TYPE lines and no HELP lines, counters without ``_total``).
Granian's ``granian_py_wait_cumulative`` (time its Rust threads wait for the GIL)
has no Python equivalent and is not exported. See docs/metrics.md.

Counting is always on and costs one integer increment where it happens:
:class:`WorkerMetrics` in each worker, :class:`SupervisorMetrics` in the main
process. Only the export is conditional (``metrics_worker`` copies a worker's
values to shared memory every ``--metrics-scrape-interval``; ``metrics_http``
serves them).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = [
    "ABSENT",
    "CONTENT_TYPE",
    "MAIN_FAMILIES",
    "PREFIX",
    "WORKER_FAMILIES",
    "SupervisorMetrics",
    "WorkerMetrics",
    "render",
]

PREFIX = "granian_"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: Main-process series (no label), in Granian's order: ``(name, type)``.
MAIN_FAMILIES: tuple[tuple[str, str], ...] = (
    ("workers_spawns", "counter"),
    ("workers_respawns_for_err", "counter"),
    ("workers_respawns_for_lifetime", "counter"),
    ("workers_respawns_for_rss", "counter"),
)

#: Per-worker series, in Granian's order: a worker's values are a row in this order.
WORKER_FAMILIES: tuple[tuple[str, str], ...] = (
    ("worker_lifetime", "counter"),
    ("connections_active", "gauge"),
    ("connections_handled", "counter"),
    ("connections_err", "counter"),
    ("requests_handled", "counter"),
    ("static_requests_handled", "counter"),
    ("static_requests_err", "counter"),
    ("blocking_threads", "gauge"),
    ("blocking_queue", "gauge"),
    ("blocking_idle_cumulative", "counter"),
    ("blocking_busy_cumulative", "counter"),
)

#: A value a worker cannot measure: its sample is left out (never exported as a zero).
ABSENT = -(2**63)


class WorkerMetrics:
    """A worker's hot-path counters: plain ints, incremented on the loop thread."""

    __slots__ = ("connections_handled", "requests_handled")

    def __init__(self) -> None:
        #: Connections a protocol took over (after the TLS handshake, as in Granian).
        self.connections_handled = 0
        #: Requests (and WebSocket sessions) whose handler has finished.
        self.requests_handled = 0


class SupervisorMetrics:
    """The main process's counters: worker spawns, and respawns by cause."""

    __slots__ = ("respawns_for_err", "respawns_for_lifetime", "respawns_for_rss", "spawns")

    def __init__(self) -> None:
        #: Every worker process started, respawns included (as Granian counts them).
        self.spawns = 0
        self.respawns_for_err = 0
        self.respawns_for_lifetime = 0
        self.respawns_for_rss = 0

    def values(self) -> tuple[int, ...]:
        """The values in :data:`MAIN_FAMILIES` order."""
        return (
            self.spawns,
            self.respawns_for_err,
            self.respawns_for_lifetime,
            self.respawns_for_rss,
        )


def _type_line(name: str, kind: str) -> str:
    return f"# TYPE {PREFIX}{name} {kind}"


_MAIN_TYPE_LINES = tuple(_type_line(name, kind) for name, kind in MAIN_FAMILIES)
_WORKER_TYPE_LINES = tuple(_type_line(name, kind) for name, kind in WORKER_FAMILIES)
_WORKER_SAMPLE_PREFIXES = tuple(f'{PREFIX}{name}{{worker="' for name, _ in WORKER_FAMILIES)


def render(main: Sequence[int], workers: Iterable[tuple[int, Sequence[int]]]) -> bytes:
    """The exposition text: main series, then each family with one sample per worker.

    ``workers`` yields ``(worker_id, row)`` for the workers that reported; a family's
    TYPE line is there even before any worker did (as in Granian).
    """
    lines: list[str] = []
    for (name, _), type_line, value in zip(MAIN_FAMILIES, _MAIN_TYPE_LINES, main, strict=True):
        lines.append(type_line)
        lines.append(f"{PREFIX}{name} {value}")
    rows = list(workers)
    for index, type_line in enumerate(_WORKER_TYPE_LINES):
        lines.append(type_line)
        prefix = _WORKER_SAMPLE_PREFIXES[index]
        for worker_id, row in rows:
            value = row[index]
            if value != ABSENT:
                lines.append(f'{prefix}{worker_id}"}} {value}')
    lines.append("")  # the text format ends every line, the last one too, with "\n"
    return "\n".join(lines).encode()
