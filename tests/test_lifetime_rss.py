"""Graceful respawns of healthy workers: --workers-lifetime and --workers-max-rss."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from granian_core.config import ServerConfig
from granian_core.server.monitors import LifetimeMonitor, MemoryMonitor, build_monitors
from granian_core.server.rss import read_rss, rss_readable

from .conftest import GranianProcess, free_port, start_process, wait_for_port
from .helpers import wait_for_new_worker, worker_pid

MIB = 1024 * 1024
LINUX_ONLY = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")


# -- the monitors' decisions ------------------------------------------------------------------
@dataclass
class FakeWorker:
    worker_id: int
    pid: int | None
    started_at: float


def test_lifetime_monitor_picks_the_workers_that_lived_long_enough() -> None:
    monitor = LifetimeMonitor(60)
    workers = [FakeWorker(1, 11, 100.0), FakeWorker(2, 12, 130.0)]
    assert monitor.next_check_at(workers) == 160.0
    assert monitor.due(workers, 159.9) == []
    assert monitor.due(workers, 160.0) == [1]
    assert monitor.due(workers, 190.0) == [1, 2]
    assert monitor.next_check_at([]) is None


def test_memory_monitor_needs_consecutive_samples_over_the_limit() -> None:
    readings = {11: 50 * MIB, 12: 150 * MIB}
    monitor = MemoryMonitor(limit_mib=100, samples=2, interval=1, reader=readings.get)
    workers = [FakeWorker(1, 11, 0.0), FakeWorker(2, 12, 0.0)]
    start = monitor.next_check_at(workers)
    assert start is not None
    assert monitor.due(workers, start - 0.5) == []  # not time to sample yet
    assert monitor.due(workers, start) == []  # worker 2: first sample over the limit
    readings[12] = 10 * MIB
    assert monitor.due(workers, start + 1) == []  # back under: the count restarts
    readings[12] = 150 * MIB
    assert monitor.due(workers, start + 2) == []
    assert monitor.due(workers, start + 3) == [2]
    assert monitor.next_check_at(workers) == start + 4


def test_memory_monitor_counts_per_process_and_skips_gone_ones() -> None:
    readings = {12: 150 * MIB}
    monitor = MemoryMonitor(limit_mib=100, samples=2, interval=1, reader=readings.get)
    start = monitor.next_check_at([])
    assert start is not None
    assert monitor.due([FakeWorker(1, 11, 0.0), FakeWorker(2, 12, 0.0)], start) == []
    # worker-2 was replaced by PID 13: its count starts from zero.
    readings[13] = 150 * MIB
    assert monitor.due([FakeWorker(2, 13, 0.0)], start + 1) == []
    assert monitor.due([FakeWorker(2, 13, 0.0)], start + 2) == [2]


def test_monitors_from_the_configuration() -> None:
    assert build_monitors(ServerConfig()) == []
    lifetime, memory = build_monitors(
        ServerConfig(workers_lifetime=90, workers_max_rss=256, rss_samples=3)
    )
    assert isinstance(lifetime, LifetimeMonitor)
    assert lifetime.seconds == 90
    assert isinstance(memory, MemoryMonitor)
    assert (memory.limit, memory.samples, memory.interval) == (256 * MIB, 3, 30)
    # --reload disables both (the supervisor logs that it ignores them).
    assert build_monitors(ServerConfig(reload=True, workers_lifetime=90, workers_max_rss=1)) == []


@LINUX_ONLY
def test_read_rss_of_this_process_and_of_a_gone_one() -> None:
    assert rss_readable()
    rss = read_rss(__import__("os").getpid())
    assert rss is not None
    assert rss > MIB
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=10)
    assert read_rss(child.pid) is None


# -- real servers -----------------------------------------------------------------------------
@pytest.fixture
def short_lifetime_server() -> Iterator[GranianProcess]:
    port = free_port()
    handle = start_process([sys.executable, "-m", "tests.apps.short_lifetime", str(port)], port)
    try:
        wait_for_port(port, handle.proc)
        yield handle
    finally:
        handle.stop()


def test_worker_lifetime_respawns_gracefully(short_lifetime_server: GranianProcess) -> None:
    server = short_lifetime_server
    first = worker_pid(server.url)
    second = wait_for_new_worker(server.url, first)
    assert second != first
    code, out = server.stop()
    assert code == 0
    lines = out.splitlines()
    expected = [
        "[INFO] worker-1 lifetime expired, gracefully respawning..",
        "[INFO] Respawning worker-1",
        f"[INFO] Spawning worker-1 with PID: {second}",
        "[INFO] Stopping old worker-1",
        "[INFO] Stopped old worker-1",
    ]
    positions = [lines.index(line) for line in expected]
    assert positions == sorted(positions)


@LINUX_ONLY
def test_worker_over_max_rss_is_respawned(granian_proc: Callable[..., GranianProcess]) -> None:
    limit_mib = 200
    server = granian_proc(
        "--interface", "asgi",
        "--workers-max-rss", str(limit_mib),
        "--rss-sample-interval", "1",
        "--rss-samples", "2",
        "--respawn-interval", "0",
        "tests.apps.memory_asgi:app",
    )  # fmt: skip
    baseline = int(httpx.get(f"{server.url}/rss", timeout=10).text)
    assert baseline < limit_mib * MIB, "the test needs a worker that starts under the limit"
    grow = limit_mib - baseline // MIB + 50
    first = int(httpx.get(f"{server.url}/grow/{grow}", timeout=10).text)
    second = wait_for_new_worker(server.url, first)
    assert int(httpx.get(f"{server.url}/rss", timeout=10).text) < limit_mib * MIB
    code, out = server.stop()
    assert code == 0
    assert "[INFO] worker-1 RSS over threshold, gracefully respawning.." in out
    assert "[INFO] Respawning worker-1" in out
    assert f"[INFO] Spawning worker-1 with PID: {second}" in out
    assert "[INFO] Stopping old worker-1" in out
