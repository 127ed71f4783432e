"""Fixtures that run the real server: in a thread (``serve``) or as a process (``granian_proc``)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from granian_core.config import ServerConfig
from granian_core.interface import Interface
from granian_core.loops import loops
from granian_core.server.embed import EmbeddedServer

ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT = 15.0

T = TypeVar("T")


@dataclass
class ServerHandle:
    """A running server: where it listens, and the objects behind it."""

    server: EmbeddedServer
    thread: threading.Thread
    errors: list[BaseException] = field(default_factory=list)
    #: The server thread's event loop, once it runs.
    loop: Any = None

    def call_in_loop(self, fn: Callable[[], T]) -> T:
        """``fn()`` run on the server's thread, between its loop's callbacks."""

        async def call() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(call(), self.loop).result(STARTUP_TIMEOUT)

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def url(self) -> str:
        scheme = "https" if self.server.ssl_context is not None else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def stop(self) -> None:
        self.server.stop()
        self.thread.join(timeout=15)
        assert not self.thread.is_alive(), "server did not stop within 15 s"


def _run_server(handle: ServerHandle, loop_name: str) -> None:
    loop = handle.loop = loops.get(loop_name)
    try:
        loop.run_until_complete(handle.server.serve())
    except BaseException as exc:
        handle.errors.append(exc)
    finally:
        loop.close()


@contextlib.contextmanager
def run_server(
    app: Any, interface: str | type[Interface] = "asgi", **options: Any
) -> Iterator[ServerHandle]:
    """Serve ``app`` on 127.0.0.1 (a free port) in a background thread."""
    interface_cls = interface if isinstance(interface, type) else None
    name = options.pop("interface_name", "rsgi" if interface_cls else interface)
    options.setdefault("port", 0)
    config = ServerConfig(interface=name, **options)
    server = EmbeddedServer(app, config, interface_cls=interface_cls)
    handle = ServerHandle(server=server, thread=threading.Thread(target=lambda: None))
    handle.thread = threading.Thread(
        target=_run_server, args=(handle, config.loop), name="test-server", daemon=True
    )
    handle.thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT
    # Ready once the worker serves: the sockets are bound before the app's init hooks and
    # startup run, the worker's state only after them.
    while server.worker is None or server.worker.state is None:
        if handle.errors:
            raise handle.errors[0]
        if time.monotonic() > deadline:
            raise TimeoutError("server did not start")
        time.sleep(0.005)
    try:
        yield handle
    finally:
        handle.stop()
    if handle.errors:
        raise handle.errors[0]


@pytest.fixture
def serve() -> Callable[..., contextlib.AbstractContextManager[ServerHandle]]:
    """``with serve(app, interface="asgi", **config_fields) as srv:`` → ``srv.url``."""
    return run_server


@pytest.fixture(params=["h11", "httptools"])
def parser(request: pytest.FixtureRequest) -> str:
    """Both HTTP/1 parsers: every HTTP/1 behaviour test runs against each."""
    return str(request.param)


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """``count`` distinct free ports: all stay bound until every number is read, since
    a port released before the next bind can be handed out again."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in socks]


def wait_for_port(
    port: int, proc: subprocess.Popen[str] | None = None, timeout: float = 20.0
) -> None:
    _wait_until_accepted(("127.0.0.1", port), f"port {port}", proc, timeout)


def wait_for_unix_socket(
    path: Path, proc: subprocess.Popen[str] | None = None, timeout: float = 20.0
) -> None:
    _wait_until_accepted(str(path), str(path), proc, timeout)


def _wait_until_accepted(
    address: tuple[str, int] | str,
    name: str,
    proc: subprocess.Popen[str] | None,
    timeout: float,
) -> None:
    """Poll until a connection to ``address`` (TCP, or a Unix socket path) is accepted."""
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.socket(family) as sock:
            sock.settimeout(0.2)
            sock.connect(address)
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {name}")


@dataclass
class GranianProcess:
    proc: subprocess.Popen[str]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, timeout: float = 15.0) -> tuple[int, str]:
        """SIGTERM the server; return its exit code and everything it printed."""
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            # Kill the whole group: workers must not outlive the test holding our pipe.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            out, _ = self.proc.communicate()
        return self.proc.returncode, out


def granian_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "granian", *args]


def start_process(
    command: list[str], port: int = 0, env: dict[str, str] | None = None
) -> GranianProcess:
    """Start a server process in its own session (so a stop reaches its workers too).

    ``env`` is added to this process's environment; output is kept for ``stop()``.
    """
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )
    return GranianProcess(proc, port)


@pytest.fixture
def granian_proc() -> Iterator[Callable[..., GranianProcess]]:
    """Start ``python -m granian ARGS --port <free>`` and wait until it listens."""
    started: list[GranianProcess] = []

    def start(*args: str, wait: bool = True, env: dict[str, str] | None = None) -> GranianProcess:
        port = free_port()
        handle = start_process(granian_command(*args, "--port", str(port)), port, env)
        started.append(handle)
        if wait:
            wait_for_port(port, handle.proc)
        return handle

    yield start
    for handle in started:
        handle.stop()
