"""The process model through `python -m granian`: log lines, exit codes, respawn, reload."""

from __future__ import annotations

import concurrent.futures
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from granian_core.log import LOGGING_CONFIG

from .conftest import (
    ROOT,
    GranianProcess,
    granian_command,
    start_process,
    wait_for_unix_socket,
)
from .helpers import wait_for_new_worker, worker_pid

APP = "tests.apps.process_asgi:app"
START = ["--interface", "asgi", APP]


def test_start_and_sigterm_log_lines_and_exit_zero(
    granian_proc: Callable[..., GranianProcess],
) -> None:
    proc = granian_proc(*START)
    pid = worker_pid(proc.url)
    code, out = proc.stop()
    assert code == 0
    lines = out.splitlines()
    main_pid = proc.proc.pid
    expected = [
        f"[INFO] Starting granian (main PID: {main_pid})",
        f"[INFO] Listening at: http://127.0.0.1:{proc.port}",
        f"[INFO] Spawning worker-1 with PID: {pid}",
        "[INFO] Started worker-1",
        "[INFO] Shutting down granian",
        "[INFO] Stopping worker-1",
        "[INFO] Stopped worker-1",
        "[INFO] Granian shutdown completed, see ya!",
    ]
    positions = [lines.index(line) for line in expected]
    assert positions == sorted(positions)


def test_a_clean_stop_leaves_no_resource_unclosed(
    granian_proc: Callable[..., GranianProcess],
) -> None:
    """Python's development mode reports sockets left open at exit (ResourceWarning)."""
    proc = granian_proc(*START, env={"PYTHONDEVMODE": "1"})
    worker_pid(proc.url)
    code, out = proc.stop()
    assert code == 0
    assert "ResourceWarning" not in out, out


def test_a_worker_signalled_as_its_loop_starts_does_not_hang(
    granian_proc: Callable[..., GranianProcess], tmp_path: Path
) -> None:
    """A SIGTERM as the worker starts serving ends it ("Started worker-1" is logged in the
    running loop, right after the app's startup; uvloop once dropped a signal that came
    after its handlers were added but before the loop ran)."""
    log_config = tmp_path / "log.json"
    log_config.write_text(json.dumps(_SIGNAL_ON_START_LOGGING))
    # Not waiting for the port: the server may be gone before a connection is tried.
    proc = granian_proc("--log-config", str(log_config), *START, wait=False)
    try:
        proc.proc.wait(timeout=15)  # the worker is gone, so the server stops by itself
    except subprocess.TimeoutExpired:
        pytest.fail("the worker ignored a SIGTERM received as its loop started")
    code, out = proc.stop()
    assert "Started worker-1" in out
    assert "Unexpected exit from worker-1" in out
    assert code == 1


#: --log-config keys replace the server's own: its console handler, plus the signalling one.
_SIGNAL_ON_START_LOGGING = {
    "handlers": {
        **LOGGING_CONFIG["handlers"],
        "signal": {"()": "tests.apps.signal_on_start.SignalOnStarted"},
    },
    "loggers": {
        "_granian": {"handlers": ["console", "signal"], "level": "INFO", "propagate": False}
    },
}


def test_worker_crash_stops_the_server_with_exit_one(
    granian_proc: Callable[..., GranianProcess],
) -> None:
    proc = granian_proc(*START)
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{proc.url}/crash", timeout=10)
    proc.proc.wait(timeout=20)  # the server stops by itself
    code, out = proc.stop()
    assert code == 1
    assert "[ERROR] Unexpected exit from worker-1" in out


def test_respawn_failed_workers_replaces_a_crashed_worker(
    granian_proc: Callable[..., GranianProcess],
) -> None:
    proc = granian_proc("--respawn-failed-workers", *START)
    first = worker_pid(proc.url)
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{proc.url}/crash", timeout=10)
    second = wait_for_new_worker(proc.url, first)
    assert second != first
    code, out = proc.stop()
    assert code == 0
    assert "[ERROR] Unexpected exit from worker-1" in out
    assert out.count("Spawning worker-1 with PID") == 2


def test_a_crash_loop_stops_the_server(granian_proc: Callable[..., GranianProcess]) -> None:
    proc = granian_proc("--respawn-failed-workers", *START)
    first = worker_pid(proc.url)
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{proc.url}/crash", timeout=10)
    wait_for_new_worker(proc.url, first)
    with pytest.raises(httpx.TransportError):  # again, within 5.5 s of the respawn
        httpx.get(f"{proc.url}/crash", timeout=10)
    proc.proc.wait(timeout=20)
    code, out = proc.stop()
    assert code == 1
    assert "[ERROR] Worker crash loop detected, exiting" in out  # Granian's words


def test_sighup_replaces_workers(granian_proc: Callable[..., GranianProcess]) -> None:
    proc = granian_proc("--respawn-interval", "0.2", *START)
    first = worker_pid(proc.url)
    os.kill(proc.proc.pid, signal.SIGHUP)
    second = wait_for_new_worker(proc.url, first)
    assert second != first
    code, out = proc.stop()
    assert code == 0
    assert "[INFO] HUP signal received, gracefully respawning workers.." in out


def test_a_workers_lifetime_beyond_polls_limit_is_served(
    granian_proc: Callable[..., GranianProcess],
) -> None:
    """30 days: the supervisor's wait for it exceeded poll()'s ~24.8 days of milliseconds
    and the server died at start with an OverflowError (Granian serves)."""
    proc = granian_proc("--workers-lifetime", "30d", *START)
    worker_pid(proc.url)
    code, out = proc.stop()
    assert code == 0
    assert "Traceback" not in out


def test_a_respawn_interval_beyond_polls_limit_still_stops_promptly(
    granian_proc: Callable[..., GranianProcess],
) -> None:
    """A SIGHUP respawn waits --respawn-interval (here ~35 days) before stopping the old
    worker; that wait overflowed poll() and left the server hung with a traceback."""
    proc = granian_proc("--respawn-interval", "3000000", *START)
    first = worker_pid(proc.url)
    os.kill(proc.proc.pid, signal.SIGHUP)
    wait_for_new_worker(proc.url, first)
    code, out = proc.stop()
    assert code == 0
    assert "[INFO] Stopped old worker-1" in out
    assert "Traceback" not in out


def test_two_workers_both_serve(granian_proc: Callable[..., GranianProcess]) -> None:
    proc = granian_proc("--workers", "2", *START)
    pids = {worker_pid(proc.url) for _ in range(40)}
    code, out = proc.stop()
    assert code == 0
    assert "Spawning worker-2 with PID" in out
    assert len(pids) >= 1  # the kernel balances; both are alive:
    assert out.count("[INFO] Stopped worker-") == 2


def test_pid_file_written_and_removed(
    granian_proc: Callable[..., GranianProcess], tmp_path: Path
) -> None:
    pid_file = tmp_path / "granian.pid"
    proc = granian_proc("--pid-file", str(pid_file), *START)
    assert pid_file.read_text().strip() == str(proc.proc.pid)
    code, _ = proc.stop()
    assert code == 0
    assert not pid_file.exists()


def test_pid_file_of_a_live_process_refuses_to_start(tmp_path: Path) -> None:
    pid_file = tmp_path / "granian.pid"
    pid_file.write_text(f"{os.getpid()}\n")  # this test process is alive
    result = subprocess.run(
        granian_command("--pid-file", str(pid_file), "--port", "0", *START),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "belongs to a running process" in result.stdout + result.stderr
    assert pid_file.read_text().strip() == str(os.getpid())


def test_busy_port_is_a_one_line_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            granian_command("--port", str(port), *START),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 1
    assert f"Cannot bind to 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_unix_socket(tmp_path: Path) -> None:
    path = tmp_path / "granian.sock"
    handle = start_process(granian_command("--uds", str(path), "--uds-permissions", "0600", *START))
    try:
        wait_for_unix_socket(path, handle.proc)
        assert oct(path.stat().st_mode & 0o777) == "0o600"
        transport = httpx.HTTPTransport(uds=str(path))
        with httpx.Client(transport=transport, timeout=10) as client:
            response = client.get("http://granian/")
        assert response.status_code == 200
    finally:
        code, out = handle.stop()
    assert code == 0
    assert f"Listening at: http://unix:{path}" in out  # Granian's form
    assert not path.exists()


def test_sigterm_lets_in_flight_requests_finish(
    granian_proc: Callable[..., GranianProcess], tmp_path: Path
) -> None:
    proc = granian_proc(*START)
    in_app = tmp_path / "in-app"
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        slow = _request_in_app(pool, f"{proc.url}/slow", in_app, 20)
        proc.proc.terminate()
        response = slow.result()
    assert response.status_code == 200
    # Let it exit on that one SIGTERM: stop() would send another, which may land after
    # Python restored the default action at exit (exit -15 after a clean shutdown).
    proc.proc.wait(timeout=15)
    code, out = proc.stop()
    assert code == 0
    assert "Granian shutdown completed, see ya!" in out
    with pytest.raises(httpx.TransportError):
        httpx.get(proc.url, timeout=2)  # nothing listens any more


def test_an_orphaned_worker_does_not_outlive_its_shutdown_grace(
    granian_proc: Callable[..., GranianProcess], tmp_path: Path
) -> None:
    # The supervisor dies (SIGKILL): the kernel SIGTERMs the worker, which shuts down
    # gracefully, but a handler that never ends must not keep it alive with nobody left to
    # kill it. It exits after --workers-kill-timeout (30 s without it).
    proc = granian_proc("--workers-kill-timeout", "1", *START)
    pid = worker_pid(proc.url)
    in_app = tmp_path / "in-app"
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        stuck = _request_in_app(pool, f"{proc.url}/stuck", in_app, 30)
        proc.proc.kill()
        deadline = time.monotonic() + 10  # far less than the handler's 60 s
        while _running(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _running(pid)
        with pytest.raises(httpx.TransportError):
            stuck.result()
    _, out = proc.stop()
    assert "The supervisor is gone" in out


def _request_in_app(
    pool: concurrent.futures.ThreadPoolExecutor, url: str, in_app: Path, timeout: float
) -> concurrent.futures.Future[httpx.Response]:
    """GET ``url?in_app`` in ``pool``; returns once the app holds the request."""
    request = pool.submit(httpx.get, f"{url}?{in_app}", timeout=timeout)
    deadline = time.monotonic() + 10
    while not in_app.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert in_app.exists(), "the request never reached the app"
    return request


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie nobody reaps has exited)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def test_new_connections_are_refused_during_a_graceful_shutdown(
    granian_proc: Callable[..., GranianProcess], tmp_path: Path
) -> None:
    # Granian's behaviour: refused at once. Were the main process to keep its copy of the
    # listening socket, the kernel would accept them, to hang and then be reset.
    proc = granian_proc(*START)
    in_app = tmp_path / "in-app"
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        slow = _request_in_app(pool, f"{proc.url}/slower", in_app, 20)
        proc.proc.terminate()
        refused = False
        deadline = time.monotonic() + 2
        while not refused and time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", proc.port), timeout=0.5).close()
                time.sleep(0.05)
            except ConnectionRefusedError:
                refused = True
        assert refused
        assert not slow.done()  # while the in-flight request is still being served
        assert slow.result().status_code == 200
    proc.proc.wait(timeout=15)
    assert proc.stop()[0] == 0
