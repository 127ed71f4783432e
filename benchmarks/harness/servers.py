"""The servers under test: how each one is started, and a context manager that runs one.

Every server gets one worker, pinned to ``SERVER_CPU``, logging off, on ``HOST`` and a free
port. It runs in its own session so that stopping it (by PID/process group) also stops the
worker processes it spawned.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .paths import BENCH_DIR, HOST, LOGS_DIR, REPO_ROOT, SERVER_CPU, pinned

STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
BACKLOG = "2048"

_OURS = ("{python}", "-m", "granian")
_GRANIAN = ("{bin}/granian",)
# --backpressure (default: backlog / workers) caps the connections a Granian worker serves at
# once; the idle-connections workload needs 10k. It does not bind in any other workload.
_GRANIAN_FLAGS = tuple(
    f"--host {HOST} --port {{port}} --workers 1 --loop uvloop --no-log "
    f"--backlog {BACKLOG} --backpressure 16384".split()
)
_UVICORN_FLAGS = tuple(
    f"--host {HOST} --port {{port}} --loop uvloop --ws websockets --no-access-log "
    f"--log-level warning --backlog {BACKLOG} --timeout-keep-alive 60 --lifespan on".split()
)
_HYPERCORN = (
    *f"{{bin}}/hypercorn -k uvloop -w 1 -b {HOST}:{{port}} --backlog {BACKLOG} "
    "--keep-alive 60 --log-level warning -c".split(),
    f"file:{BENCH_DIR / 'apps' / 'hypercorn_conf.py'}",
    "benchmarks.apps.asgi_app:app",
)
_GUNICORN = tuple(
    f"{{bin}}/gunicorn -w 1 -k sync -b {HOST}:{{port}} --backlog {BACKLOG} "
    "--log-level warning benchmarks.apps.wsgi_app:app".split()
)
_LIMIT = ("{python}", str(BENCH_DIR / "apps" / "limit_server.py"), "--port", "{port}")


class ServerFailed(RuntimeError):
    """The server exited or never answered."""


@dataclass(frozen=True)
class ServerSpec:
    """A server bound to one interface. ``argv`` placeholders: {python} {bin} {port}."""

    name: str
    interface: str  # "asgi" | "rsgi" | "wsgi" | "raw"
    venv: str
    argv: tuple[str, ...]

    @property
    def key(self) -> str:
        return f"{self.name}-{self.interface}"

    @property
    def is_ours(self) -> bool:
        return self.name == "ours"

    def command(self, python: Path, port: int) -> list[str]:
        values = {"python": str(python), "bin": str(python.parent), "port": str(port)}
        return [part.format(**values) for part in self.argv]


def _granian_like(name: str, venv: str, launcher: tuple[str, ...], iface: str) -> ServerSpec:
    target = f"benchmarks.apps.{iface}_app:app"
    return ServerSpec(name, iface, venv, (*launcher, "--interface", iface, *_GRANIAN_FLAGS, target))


def _uvicorn(http: str) -> ServerSpec:
    argv = ("{bin}/uvicorn", "benchmarks.apps.asgi_app:app", "--http", http, *_UVICORN_FLAGS)
    return ServerSpec(f"uvicorn-{http}", "asgi", "uvicorn", argv)


SERVERS: tuple[ServerSpec, ...] = (
    *(_granian_like("ours", "ours", _OURS, iface) for iface in ("asgi", "rsgi", "wsgi")),
    *(_granian_like("granian", "granian", _GRANIAN, iface) for iface in ("asgi", "rsgi", "wsgi")),
    _uvicorn("httptools"),
    _uvicorn("h11"),
    ServerSpec("hypercorn", "asgi", "hypercorn", _HYPERCORN),
    ServerSpec("gunicorn", "wsgi", "gunicorn", _GUNICORN),
    ServerSpec("limit", "raw", "tools", _LIMIT),
)


@dataclass
class RunningServer:
    spec: ServerSpec
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, size: int = 1500) -> str:
        try:
            return self.log_path.read_bytes()[-size:].decode("utf-8", "replace")
        except OSError:
            return ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _answers(port: int) -> bool:
    conn = http.client.HTTPConnection(HOST, port, timeout=2)
    try:
        conn.request("GET", "/hello")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def _wait_ready(server: RunningServer) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if not server.alive():
            raise ServerFailed(f"{server.spec.key} exited at start:\n{server.log_tail()}")
        if _answers(server.port):
            return
        time.sleep(0.1)
    raise ServerFailed(f"{server.spec.key} did not answer in {STARTUP_TIMEOUT:.0f}s")


def _stop(server: RunningServer) -> None:
    """SIGTERM the server's process group, SIGKILL it if it lingers."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, sig)
        try:
            server.process.wait(timeout=STOP_TIMEOUT)
            break
        except subprocess.TimeoutExpired:
            continue
    # Workers that outlived their parent still belong to the group: make sure they are gone.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGKILL)


@contextlib.contextmanager
def running(spec: ServerSpec, python: Path) -> Iterator[RunningServer]:
    """Start ``spec`` with ``python``'s environment, wait until it answers, always stop it."""
    LOGS_DIR.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = LOGS_DIR / f"{spec.key}.log"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PYTHONUNBUFFERED": "1"}
    env.pop("VIRTUAL_ENV", None)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            pinned(SERVER_CPU, spec.command(python, port)),
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = RunningServer(spec, port, process, log_path)
    try:
        _wait_ready(server)
        yield server
    finally:
        _stop(server)
