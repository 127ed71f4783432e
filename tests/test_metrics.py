"""The Prometheus exporter (``--metrics``): its text, its shared rows, real servers scraped.

Integration tests run ``python -m granian --metrics`` (or a real ``Supervisor``) and
scrape it with httpx, polling (bounded) until the workers' copies, made every
``--metrics-scrape-interval`` (1 s here), show what the test did.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import re
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
from granian_core.blocking import BlockingPool
from granian_core.config import ServerConfig
from granian_core.errors import ConfigurationError
from granian_core.exchange import HTTPExchange
from granian_core.interface import Interface, WorkerContext
from granian_core.server.embed import check_embeddable
from granian_core.server.metrics import (
    ABSENT,
    CONTENT_TYPE,
    MAIN_FAMILIES,
    WORKER_FAMILIES,
    SupervisorMetrics,
    render,
)
from granian_core.server.metrics_http import MAX_CONNECTIONS, MetricsExporter
from granian_core.server.metrics_slots import MetricsTable
from granian_core.server.metrics_worker import MetricsPublisher, WorkerSampler
from granian_core.server.state import WorkerState
from granian_core.static import StaticFiles, StaticFilesInterface

from .conftest import (
    GranianProcess,
    free_port,
    free_ports,
    granian_command,
    start_process,
    wait_for_port,
)
from .helpers import worker_pid

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="no metrics on Windows")

APP = "tests.apps.process_asgi:app"
SAMPLE = re.compile(r'^granian_(\w+?)(?:\{worker="(\d+)"\})? (-?\d+)$')
TYPE = re.compile(r"^# TYPE granian_(\w+) (counter|gauge)$")
WORKER_NAMES = [name for name, _ in WORKER_FAMILIES]
MAIN_NAMES = [name for name, _ in MAIN_FAMILIES]
#: Upper bound for anything a scrape must eventually show.
POLL_SECONDS = 15.0

Samples = dict[tuple[str, str | None], int]


# -- parsing and polling ----------------------------------------------------------------------
def parse(text: str) -> tuple[dict[str, str], Samples]:
    """Types by family and samples by ``(family, worker)``; every line must be well formed."""
    assert text.endswith("\n")
    types: dict[str, str] = {}
    samples: Samples = {}
    for line in text.splitlines():
        declared = TYPE.match(line)
        if declared:
            types[declared[1]] = declared[2]
            continue
        sample = SAMPLE.match(line)
        assert sample, f"malformed line: {line!r}"
        name, worker, value = sample.groups()
        assert name in types, f"sample before its TYPE line: {line!r}"
        samples[(name, worker)] = int(value)
    return types, samples


def scrape(port: int, path: str = "/metrics") -> Samples:
    response = httpx.get(f"http://127.0.0.1:{port}{path}", timeout=5)
    assert response.status_code == 200
    return parse(response.text)[1]


def by_worker(samples: Samples, name: str) -> dict[str, int]:
    return {
        worker: value for (family, worker), value in samples.items() if family == name and worker
    }


def poll(port: int, check: Callable[[Samples], bool], timeout: float = POLL_SECONDS) -> Samples:
    """Scrape until ``check`` holds; the samples that satisfied it."""
    deadline = time.monotonic() + timeout
    samples: Samples = {}
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            samples = scrape(port)
            if check(samples):
                return samples
        time.sleep(0.2)
    raise AssertionError(f"the metrics never matched; last scrape: {samples}")


def metrics_command(metrics_port: int, port: int, *args: str) -> list[str]:
    """``python -m granian --metrics`` on these ports, then ARGS."""
    return granian_command(
        "--metrics", "--metrics-port", str(metrics_port), "--port", str(port), *args
    )


@contextlib.contextmanager
def granian(*args: str) -> Iterator[tuple[GranianProcess, int]]:
    """``python -m granian --metrics ARGS`` on free ports: (process, metrics port)."""
    metrics_port, port = free_ports(2)
    command = metrics_command(metrics_port, port, "--metrics-scrape-interval", "1", *args)
    proc = start_process(command, port)
    try:
        wait_for_port(port, proc.proc)
        wait_for_port(metrics_port, proc.proc)
        yield proc, metrics_port
    finally:
        proc.stop()


# -- the text -------------------------------------------------------------------------------
def test_render_is_granians_exposition_text() -> None:
    main = SupervisorMetrics()
    main.spawns = 3
    main.respawns_for_err = 1
    row = list(range(10, 10 + len(WORKER_FAMILIES)))
    text = render(main.values(), [(1, row), (2, [0] * len(WORKER_FAMILIES))]).decode()
    types, samples = parse(text)
    assert list(types) == MAIN_NAMES + WORKER_NAMES
    assert types == dict(MAIN_FAMILIES + WORKER_FAMILIES)
    assert samples[("workers_spawns", None)] == 3
    assert samples[("workers_respawns_for_err", None)] == 1
    assert samples[("workers_respawns_for_rss", None)] == 0
    for index, name in enumerate(WORKER_NAMES):
        assert by_worker(samples, name) == {"1": 10 + index, "2": 0}
    assert "# HELP" not in text  # Granian exports TYPE lines only
    assert 'granian_connections_active{worker="1"} 11\n' in text


def test_render_leaves_out_absent_values_but_keeps_the_family() -> None:
    row = [7] * len(WORKER_FAMILIES)
    row[WORKER_NAMES.index("connections_err")] = ABSENT
    types, samples = parse(render(SupervisorMetrics().values(), [(1, row)]).decode())
    assert types["connections_err"] == "counter"
    assert ("connections_err", "1") not in samples
    assert samples[("requests_handled", "1")] == 7


def test_render_before_any_worker_reported() -> None:
    types, samples = parse(render(SupervisorMetrics().values(), []).decode())
    assert list(types) == MAIN_NAMES + WORKER_NAMES
    assert set(samples) == {(name, None) for name in MAIN_NAMES}


def test_py_wait_is_not_exported() -> None:
    # Time Granian's Rust threads wait for the GIL: nothing in Python measures that.
    assert "py_wait_cumulative" not in WORKER_NAMES


# -- the shared rows --------------------------------------------------------------------------
def test_a_successor_takes_the_row_over() -> None:
    table = MetricsTable(multiprocessing.get_context("fork"), workers=2)
    old = table.claim(2, interval=1.0)
    assert list(table.rows()) == []
    row = [5] * len(WORKER_FAMILIES)
    assert old.publish(row)
    assert list(table.rows()) == [(2, row)]
    new = table.claim(2, interval=1.0)
    assert not old.publish([9] * len(WORKER_FAMILIES))  # the old worker stops reporting
    assert list(table.rows()) == [(2, row)]  # its last values stay until the new one reports
    assert new.publish([1] * len(WORKER_FAMILIES))
    assert list(table.rows()) == [(2, [1] * len(WORKER_FAMILIES))]


def test_a_dead_workers_row_is_hidden_until_its_successor_reports() -> None:
    table = MetricsTable(multiprocessing.get_context("fork"), workers=1)
    table.claim(1, interval=1.0).publish([3] * len(WORKER_FAMILIES))
    table.clear(1)
    assert list(table.rows()) == []
    table.claim(1, interval=1.0).publish([4] * len(WORKER_FAMILIES))
    assert list(table.rows()) == [(1, [4] * len(WORKER_FAMILIES))]


def test_rows_exist_only_for_configured_workers() -> None:
    table = MetricsTable(multiprocessing.get_context("fork"), workers=1)
    with pytest.raises(ValueError, match="worker-2"):
        table.claim(2, interval=1.0)


# -- what a worker reports ----------------------------------------------------------------
class _Idle(Interface):
    async def handle_http(self, exchange: HTTPExchange) -> None:
        raise NotImplementedError


class _CountingAcceptor:
    def __init__(self, failed: int) -> None:
        self.failed = failed


def _state(interface: Interface, loop: asyncio.AbstractEventLoop) -> WorkerState:
    state = WorkerState(interface.context.config, interface, loop)
    state.close()  # only the counters are used: no date timer
    return state


def _row(sampler: WorkerSampler) -> dict[str, int]:
    return dict(zip(WORKER_NAMES, sampler.sample(), strict=True))


def test_sampler_reads_the_worker_counters_and_registry() -> None:
    loop = asyncio.new_event_loop()
    try:
        interface = _Idle(None, WorkerContext(config=ServerConfig(), loop=loop))
        state = _state(interface, loop)
        state.metrics.connections_handled = 4
        state.metrics.requests_handled = 9
        state.connections.update({object(), object()})
        row = _row(WorkerSampler(state, [], interface))
    finally:
        loop.close()
    assert row["connections_handled"] == 4
    assert row["requests_handled"] == 9
    assert row["connections_active"] == 2
    assert row["worker_lifetime"] == 0
    # No static route, no blocking pool: true zeros.
    for name in ("static_requests_handled", "static_requests_err", "blocking_threads"):
        assert row[name] == 0
    assert row["blocking_idle_cumulative"] == 0


def test_sampler_reads_sources_that_count(tmp_path: Path) -> None:
    # The counters the acceptors, the static table and the pool keep.
    loop = asyncio.new_event_loop()
    try:
        config = ServerConfig(static_path_mount=[tmp_path])
        context = WorkerContext(config=config, loop=loop)
        files: Any = StaticFiles.from_config(config)
        files.requests, files.not_found = 6, 2
        interface = StaticFilesInterface(_Idle(None, context), files)
        pool: Any = BlockingPool(max_threads=2, idle_timeout=5)
        pool.idle_seconds, pool.busy_seconds = 1.5, 0.25
        context._blocking_pool = pool
        acceptors: Any = [_CountingAcceptor(1), _CountingAcceptor(2)]
        row = _row(WorkerSampler(_state(interface, loop), acceptors, interface))
    finally:
        loop.close()
    assert row["connections_err"] == 3
    assert row["static_requests_handled"] == 6
    assert row["static_requests_err"] == 2
    assert row["blocking_idle_cumulative"] == 1_500_000
    assert row["blocking_busy_cumulative"] == 250_000


def test_publisher_stops_once_a_successor_owns_the_row() -> None:
    table = MetricsTable(multiprocessing.get_context("fork"), workers=1)
    loop = asyncio.new_event_loop()
    try:
        interface = _Idle(None, WorkerContext(config=ServerConfig(), loop=loop))
        sampler = WorkerSampler(_state(interface, loop), [], interface)
        publisher = MetricsPublisher(loop, table.claim(1, interval=60.0), sampler)
        publisher.start()  # reports at once, then every interval
        assert [worker for worker, _ in table.rows()] == [1]
        assert publisher._timer is not None
        table.claim(1, interval=60.0)
        publisher.stop()
        publisher.start()
        assert publisher._timer is None  # not rescheduled: the row is someone else's
    finally:
        loop.close()


# -- the exporter ---------------------------------------------------------------------------
@pytest.fixture
def exporter() -> Iterator[MetricsExporter]:
    running = MetricsExporter("127.0.0.1", 0, lambda: b"# TYPE granian_x counter\ngranian_x 1\n")
    running.start()
    yield running
    running.stop()


def test_exporter_answers_get_and_head_on_any_path(exporter: MetricsExporter) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{exporter.port}") as client:
        for path in ("/metrics", "/", "/anything"):
            response = client.get(path)  # one kept-alive connection
            assert response.status_code == 200
            assert response.headers["content-type"] == CONTENT_TYPE
            assert response.text == "# TYPE granian_x counter\ngranian_x 1\n"
        head = client.head("/metrics")
        assert head.status_code == 200
        assert head.headers["content-length"] == str(len(response.content))
        assert head.content == b""
        assert client.post("/metrics").status_code == 501


@pytest.mark.parametrize(
    ("request_head", "status_line"),
    [
        (b"HELLO\r\n\r\n", b"HTTP/1.1 400 Bad Request\r\n"),
        (b"GET / HTTP/2.0\r\n\r\n", b"HTTP/1.1 505 HTTP Version Not Supported\r\n"),
    ],
)
def test_exporter_answers_a_broken_request_with_a_status_line(
    exporter: MetricsExporter, request_head: bytes, status_line: bytes
) -> None:
    """The standard library answered a garbled request line as HTTP/0.9: an HTML page
    with no status line and no headers. Granian's exporter: 400, empty body, closed."""
    with socket.create_connection(("127.0.0.1", exporter.port), timeout=5) as sock:
        sock.sendall(request_head)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(status_line)
    assert b"\r\nConnection: close\r\n" in head + b"\r\n"
    assert b"\r\nContent-Length: 0\r\n" in head + b"\r\n"
    assert body == b""


def test_exporter_closes_connections_beyond_its_limit(exporter: MetricsExporter) -> None:
    request = b"GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n"
    kept: list[socket.socket] = []
    try:
        for _ in range(MAX_CONNECTIONS):  # each answered once and kept alive
            sock = socket.create_connection(("127.0.0.1", exporter.port), timeout=5)
            kept.append(sock)
            sock.sendall(request)
            assert sock.recv(65536).startswith(b"HTTP/1.1 200 OK\r\n")
        with socket.create_connection(("127.0.0.1", exporter.port), timeout=5) as extra:
            assert extra.recv(65536) == b""  # closed at once, unanswered
    finally:
        for sock in kept:
            sock.close()
    poll_ok = time.monotonic() + POLL_SECONDS
    while time.monotonic() < poll_ok:  # the closed connections' threads let go of them
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"http://127.0.0.1:{exporter.port}/", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise AssertionError("the exporter did not accept connections again")


def test_exporter_address_in_use_is_a_clear_error(exporter: MetricsExporter) -> None:
    second = MetricsExporter("127.0.0.1", exporter.port, lambda: b"")
    with pytest.raises(ConfigurationError) as info:
        second.start()
    assert str(info.value) == (
        f"Cannot bind the metrics exporter to 127.0.0.1:{exporter.port}: Address already in use"
    )


def test_exporter_stop_frees_the_port(exporter: MetricsExporter) -> None:
    port = exporter.port
    exporter.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
    again = MetricsExporter("127.0.0.1", port, lambda: b"")
    again.start()
    again.stop()


def test_a_forked_child_does_not_keep_the_exporter_socket(exporter: MetricsExporter) -> None:
    assert exporter._server is not None
    listener = exporter._server.socket
    pid = os.fork()
    if pid == 0:  # the child: exit 0 only if the at-fork hook closed its copy
        os._exit(0 if listener.fileno() == -1 else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert listener.fileno() != -1  # the parent's socket is untouched
    assert httpx.get(f"http://127.0.0.1:{exporter.port}/").status_code == 200


# -- configuration -----------------------------------------------------------------------
def test_metrics_are_accepted_by_the_configuration() -> None:
    config = ServerConfig(
        metrics_enabled=True,
        metrics_scrape_interval=1,
        metrics_address="::1",
        metrics_port=9191,
    )
    assert config.metrics_enabled


def test_the_embedded_server_refuses_metrics() -> None:
    with pytest.raises(ConfigurationError, match="--metrics is not supported by the embedded"):
        check_embeddable(ServerConfig(metrics_enabled=True))


# -- real servers -----------------------------------------------------------------------
def test_two_workers_report_requests_and_connections() -> None:
    with granian("--interface", "asgi", "--workers", "2", APP) as (proc, metrics_port):
        response = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5)
        assert response.headers["content-type"] == CONTENT_TYPE
        assert parse(response.text)[0] == dict(MAIN_FAMILIES + WORKER_FAMILIES)

        def started(samples: Samples) -> bool:
            # Both workers reported, and one saw the probe connection of wait_for_port.
            handled = sum(by_worker(samples, "connections_handled").values())
            return len(by_worker(samples, "requests_handled")) == 2 and handled == 1

        before = poll(metrics_port, started)
        assert before[("workers_spawns", None)] == 2
        assert set(by_worker(before, "worker_lifetime")) == {"1", "2"}
        with httpx.Client(base_url=proc.url) as client:  # HTTP/1.1, one connection
            for _ in range(5):
                assert client.get("/").status_code == 200
        with httpx.Client(base_url=proc.url, http1=False, http2=True) as client:  # h2c
            for _ in range(3):
                assert client.get("/").status_code == 200

        def settled(samples: Samples) -> bool:
            handled = sum(by_worker(samples, "requests_handled").values())
            active = sum(by_worker(samples, "connections_active").values())
            return handled == 8 and active == 0

        after = poll(metrics_port, settled)
    # The probe, then one connection per client (the h2c one starts as HTTP/1: counted once).
    assert sum(by_worker(after, "connections_handled").values()) == 3
    assert by_worker(after, "blocking_threads") == {"1": 0, "2": 0}
    assert by_worker(after, "static_requests_handled") == {"1": 0, "2": 0}


def test_a_killed_worker_is_respawned_and_counted() -> None:
    args = ("--interface", "asgi", "--workers", "2", "--respawn-failed-workers", APP)
    with granian(*args) as (proc, metrics_port):
        poll(metrics_port, lambda s: len(by_worker(s, "requests_handled")) == 2)
        os.kill(worker_pid(proc.url), signal.SIGKILL)
        after = poll(
            metrics_port,
            lambda s: (
                s[("workers_respawns_for_err", None)] == 1
                and len(by_worker(s, "requests_handled")) == 2
            ),
        )
        assert after[("workers_spawns", None)] == 3
        assert after[("workers_respawns_for_lifetime", None)] == 0


def test_wsgi_blocking_threads_are_reported() -> None:
    with granian("--interface", "wsgi", "tests.apps.wsgi_basic:app") as (proc, metrics_port):
        for _ in range(3):
            assert httpx.get(f"{proc.url}/hello", timeout=5).status_code == 200
        after = poll(metrics_port, lambda s: s.get(("requests_handled", "1")) == 3)
    assert after[("blocking_threads", "1")] >= 1  # the idle timeout (30 s) keeps it alive
    assert after[("blocking_queue", "1")] == 0
    assert after[("blocking_busy_cumulative", "1")] > 0  # µs spent running the 3 calls


def test_failed_tls_handshakes_are_connection_errors(tmp_path: Path) -> None:
    cert = trustme.CA().issue_cert("127.0.0.1")
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_path))
    cert.private_key_pem.write_to_path(str(key_path))
    args = ("--interface", "asgi", "--ssl-certificate", str(cert_path))
    with granian(*args, "--ssl-keyfile", str(key_path), APP) as (proc, metrics_port):
        for _ in range(2):  # plain HTTP where a TLS ClientHello is expected
            with socket.create_connection(("127.0.0.1", proc.port), timeout=5) as sock:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                with contextlib.suppress(OSError):
                    sock.recv(1024)
        # Two bad handshakes, and the probe of wait_for_port (closed before any handshake).
        after = poll(metrics_port, lambda s: s.get(("connections_err", "1")) == 3)
    assert after[("requests_handled", "1")] == 0


def test_static_requests_and_their_404s_are_counted(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"static")
    args = ("--interface", "asgi", "--static-path-mount", str(tmp_path), APP)
    with granian(*args) as (proc, metrics_port):
        assert httpx.get(f"{proc.url}/static/a.txt", timeout=5).status_code == 200
        assert httpx.get(f"{proc.url}/static/a.txt", timeout=5).status_code == 200
        assert httpx.get(f"{proc.url}/static/missing", timeout=5).status_code == 404
        assert httpx.get(f"{proc.url}/", timeout=5).status_code == 200  # the app's
        after = poll(metrics_port, lambda s: s.get(("requests_handled", "1")) == 4)
    assert after[("static_requests_handled", "1")] == 3
    assert after[("static_requests_err", "1")] == 1
    assert after[("connections_err", "1")] == 0


def test_metrics_address_in_use_stops_the_server_before_any_worker() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        metrics_port = taken.getsockname()[1]
        port = free_port()
        command = metrics_command(metrics_port, port, APP)
        proc = start_process(command, port)
        proc.proc.wait(timeout=20)
        code, out = proc.stop()
    assert code == 1
    assert (
        f"Error: Cannot bind the metrics exporter to 127.0.0.1:{metrics_port}: "
        "Address already in use"
    ) in out
    assert "Spawning worker" not in out


def test_reload_disables_metrics_with_granians_message(tmp_path: Path) -> None:
    metrics_port, port = free_ports(2)
    command = metrics_command(metrics_port, port, "--reload", "--reload-paths", str(tmp_path), APP)
    proc = start_process(command, port)
    try:
        wait_for_port(port, proc.proc)
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", metrics_port), timeout=1).close()
    finally:
        code, out = proc.stop()
    assert code == 0
    assert "[INFO] Metrics are not available in combination with changes reloader, ignoring" in (
        out.splitlines()
    )


# A real Supervisor run by a script: with the spawn start method, or with a 2 s lifetime.
_SUPERVISOR_SCRIPT = """
import multiprocessing, sys
from granian_core.config import ServerConfig
from granian_core.server.monitors import LifetimeMonitor
from granian_core.server.supervisor import Supervisor

port, metrics_port, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
config = ServerConfig(
    interface="asgi", port=port, metrics_enabled=True, metrics_port=metrics_port,
    metrics_scrape_interval=1, respawn_interval=0.2,
    workers_lifetime=60 if mode == "lifetime" else None,
)
supervisor = Supervisor(config, "tests.apps.process_asgi:app")
if mode == "spawn":
    supervisor._mp = multiprocessing.get_context("spawn")
else:
    supervisor.monitors = [LifetimeMonitor(2.0)]
sys.exit(supervisor.run())
"""


@contextlib.contextmanager
def supervisor_script(mode: str) -> Iterator[tuple[GranianProcess, int]]:
    port, metrics_port = free_ports(2)
    command = [sys.executable, "-c", _SUPERVISOR_SCRIPT, str(port), str(metrics_port), mode]
    proc = start_process(command, port)
    try:
        wait_for_port(metrics_port, proc.proc)
        yield proc, metrics_port
    finally:
        code, out = proc.stop()
        assert code == 0, out


def test_spawned_workers_report_through_the_shared_rows() -> None:
    with supervisor_script("spawn") as (proc, metrics_port):
        wait_for_port(proc.port, proc.proc)
        assert httpx.get(proc.url, timeout=5).status_code == 200
        poll(metrics_port, lambda s: s.get(("requests_handled", "1")) == 1)


def test_lifetime_respawns_are_counted_apart() -> None:
    with supervisor_script("lifetime") as (_, metrics_port):
        after = poll(metrics_port, lambda s: s[("workers_respawns_for_lifetime", None)] >= 1)
    assert after[("workers_respawns_for_err", None)] == 0
    assert after[("workers_respawns_for_rss", None)] == 0
    assert after[("workers_spawns", None)] >= 2
