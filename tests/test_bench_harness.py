"""The benchmark harness's own logic: ratios, table, profile summary, and the "limit" server
answering over a real socket (pipelining included)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.harness import profiling, report, runner
from benchmarks.harness.results import Result, percentile

from .conftest import free_port

LIMIT_SERVER = Path(__file__).resolve().parent.parent / "benchmarks" / "apps" / "limit_server.py"
CANNED = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 13\r\n\r\nHello, World!"


def _result(server: str, interface: str, value: float | None, workload: str = "hello") -> Result:
    reason = "" if value is not None else "h2c not served"
    return Result(workload, interface, server, "req/s", value, 1.0, 2.0, reason=reason)


def test_ratios_compare_ours_on_the_same_interface() -> None:
    results = [
        _result("ours", "asgi", 20_000.0),
        _result("uvicorn-httptools", "asgi", 8_000.0),
        _result("ours", "rsgi", 30_000.0),
        _result("granian", "rsgi", 40_000.0),
        _result("uvicorn-h11", "asgi", None),
    ]
    ratios = {(r.server, iface): ratio for r, iface, ratio in report.table_rows(results)}
    assert ratios[("ours", "asgi")] == 1.0
    assert ratios[("uvicorn-httptools", "asgi")] == 2.5
    assert ratios[("granian", "rsgi")] == 0.75
    assert ratios[("uvicorn-h11", "asgi")] is None


def test_limit_row_is_shown_in_every_interface_group() -> None:
    results = [
        _result("ours", "asgi", 20_000.0),
        _result("ours", "wsgi", 10_000.0),
        _result("limit", "raw", 100_000.0),
    ]
    limit_rows = [
        (iface, ratio) for r, iface, ratio in report.table_rows(results) if r.server == "limit"
    ]
    assert limit_rows == [("asgi", 0.2), ("wsgi", 0.1)]


def test_table_shows_na_with_its_reason_and_ours_first() -> None:
    results = [_result("uvicorn-h11", "asgi", None, "h2c-1"), _result("ours", "asgi", 5.0, "h2c-1")]
    lines = report.format_table(results).splitlines()
    assert lines[2].split()[:3] == ["h2c-1", "asgi", "ours"]
    assert "n/a" in lines[3]
    assert lines[3].endswith("h2c not served")


def test_rounds_report_the_median_run_and_keep_every_value() -> None:
    rounds = [_result("ours", "asgi", v) for v in (30_000.0, 10_000.0, 20_000.0, 40_000.0)]
    median = runner._median(rounds)
    assert median.value == 20_000.0  # the lower of the two middle runs
    assert median.extra["round_values"] == [30_000.0, 10_000.0, 20_000.0, 40_000.0]
    assert runner._median(rounds[:1]) is rounds[0]


def test_rounds_with_a_failed_run_fail() -> None:
    rounds = [_result("ours", "asgi", 30_000.0), _result("ours", "asgi", None)]
    assert not runner._median(rounds).ok


def test_percentile_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([7.0], 0.99) == 7.0


def test_profile_summary_counts_self_and_inclusive_samples() -> None:
    collapsed = "\n".join(
        [
            'process 1:"python -m granian";run_worker (/x/src/granian_core/server/worker.py:9) 6',
            'process 1:"python -m granian";run_worker (/x/src/granian_core/server/worker.py:9);'
            "H1Protocol._write (/x/src/granian_core/http1/protocol.py:40) 3",
            'process 1:"python -m granian" 1',
        ]
    )
    summary = profiling.summarize(collapsed)
    assert "10 samples" in summary
    assert "60.0%  run_worker (granian_core/server/worker.py)" in summary
    assert "30.0%  H1Protocol._write (granian_core/http1/protocol.py)" in summary
    assert "10.0%  (no Python frame: native code)" in summary


@pytest.fixture
def limit_server() -> Iterator[int]:
    pytest.importorskip("uvloop")
    port = free_port()
    process = subprocess.Popen([sys.executable, str(LIMIT_SERVER), "--port", str(port)])
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, "server closed early"
        data += chunk
    return data


def test_limit_server_answers_pipelined_and_split_requests(limit_server: int) -> None:
    request = b"GET /hello HTTP/1.1\r\nhost: x\r\n\r\n"
    with socket.create_connection(("127.0.0.1", limit_server), timeout=10) as sock:
        sock.sendall(request * 3)
        assert _read_exactly(sock, 3 * len(CANNED)) == CANNED * 3
        # A terminator split across two reads still counts once.
        sock.sendall(request[:-2])
        time.sleep(0.05)
        sock.sendall(request[-2:])
        assert _read_exactly(sock, len(CANNED)) == CANNED


def _inproc(*args: str) -> str:
    """What ``benchmarks/inproc.py`` prints for ``args``."""
    return subprocess.run(
        [sys.executable, "benchmarks/inproc.py", *args],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout


@pytest.mark.parametrize("interface", ["asgi", "rsgi", "wsgi"])
def test_inproc_serves_many_connections_and_reports_the_collector(interface: str) -> None:
    """benchmarks/inproc.py: every connection of a round is answered before the next round."""
    out = _inproc(
        interface, "--requests", "64", "--connections", "16", "--path", "/sleep10ms", "--gc"
    )
    assert out.startswith(interface)
    assert "µs/request; GC " in out
    assert "collections per 1000 requests (gen 0, 1, 2): " in out


@pytest.mark.parametrize("interface", ["asgi", "rsgi", "wsgi"])
def test_inproc_posts_a_body_and_waits_for_the_streamed_answer(interface: str) -> None:
    """benchmarks/inproc.py --body: a POST per request, the chunked echo read to its end."""
    out = _inproc(
        interface,
        "--requests",
        "16",
        "--connections",
        "4",
        "--path",
        "/stream-echo",
        "--body",
        "100000",
    )
    assert out.startswith(interface)
    assert "µs/request" in out
