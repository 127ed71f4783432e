"""--reload end to end: `python -m granian --reload` on a temporary app that the test edits."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from .conftest import free_port, granian_command, wait_for_port

WAIT = 20.0
#: A change may land before the watcher is up (it starts with the server): write it again
#: after this long without effect.
REWRITE_AFTER = 3.0


def app_source(answer: str) -> str:
    return textwrap.dedent(f"""\
        async def app(scope, receive, send):
            if scope["type"] != "http":
                return
            await send({{"type": "http.response.start", "status": 200, "headers": []}})
            await send({{"type": "http.response.body", "body": {answer.encode()!r}}})
        """)


BROKEN_SOURCE = "async def app(scope, receive, send:\n"


@dataclass
class ReloadingServer:
    proc: subprocess.Popen[str]
    port: int
    app_file: Path
    log_file: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> str:
        return self.log_file.read_text()

    def answer(self) -> str | None:
        try:
            return httpx.get(self.url, timeout=5).text
        except httpx.TransportError:
            return None

    def edit_until_answer(self, source: str, expected: str) -> None:
        """Write ``source`` until the server answers ``expected`` (bounded)."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            self.app_file.write_text(source)
            rewrite_at = time.monotonic() + REWRITE_AFTER
            while time.monotonic() < min(rewrite_at, deadline):
                if self.answer() == expected:
                    return
                time.sleep(0.1)
        raise AssertionError(f"the server never answered {expected!r}; log:\n{self.log}")

    def edit_until_logged(self, source: str, line: str) -> None:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            self.app_file.write_text(source)
            rewrite_at = time.monotonic() + REWRITE_AFTER
            while time.monotonic() < min(rewrite_at, deadline):
                if line in self.log:
                    return
                time.sleep(0.1)
        raise AssertionError(f"never logged {line!r}; log:\n{self.log}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            return self.proc.wait()


@pytest.fixture
def reloading(tmp_path: Path) -> Iterator[Callable[..., ReloadingServer]]:
    """Start a server on ``app.py`` in a watched directory; the log is kept outside it."""
    started: list[ReloadingServer] = []

    def start(*args: str, command: list[str] | None = None) -> ReloadingServer:
        app_dir = tmp_path / "project"
        app_dir.mkdir(exist_ok=True)
        app_file = app_dir / "app.py"
        app_file.write_text(app_source("first"))
        log_file = tmp_path / "server.log"
        port = free_port()
        with log_file.open("w") as log:
            proc = subprocess.Popen(
                command or granian_command(*args, "--port", str(port), "app:app"),
                cwd=app_dir,
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
                # Bytecode caches are keyed by mtime in seconds: never read a stale one.
                env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "TEST_PORT": str(port)},
                start_new_session=True,
            )
        server = ReloadingServer(proc, port, app_file, log_file)
        started.append(server)
        wait_for_port(port, proc)
        # Until a worker has imported app.py, an edit would not need a reload to show.
        deadline = time.monotonic() + WAIT
        while server.answer() != "first":
            assert time.monotonic() < deadline, f"the server never answered; log:\n{server.log}"
            time.sleep(0.05)
        return server

    yield start
    for server in started:
        server.stop()


def test_an_edit_reloads_the_workers(reloading: Callable[..., ReloadingServer]) -> None:
    server = reloading(
        "--interface", "asgi", "--reload",
        "--reload-ignore-dirs", "skipme",
        "--workers-lifetime", "60",
        "--workers-max-rss", "500",
    )  # fmt: skip
    ignored = server.app_file.parent / "skipme"
    ignored.mkdir()
    (ignored / "notes.py").write_text("x = 1\n")
    server.edit_until_answer(app_source("second, longer"), "second, longer")
    assert server.stop() == 0
    log = server.log
    assert "[INFO] Changes detected, reloading workers.." in log
    assert f"[INFO] Modified: {server.app_file}" in log
    assert "skipme" not in log.replace("--reload-ignore-dirs skipme", "")
    assert log.count("Spawning worker-1 with PID") >= 2
    # Granian's behaviour: the reloader disables both monitors, and says so.
    assert (
        "[INFO] Workers lifetime is not available in combination with changes reloader, ignoring"
        in log
    )
    assert (
        "[INFO] The resource monitor is not available in combination with changes reloader, "
        "ignoring" in log
    )


def test_ignore_worker_failure_keeps_serving_after_a_broken_edit(
    reloading: Callable[..., ReloadingServer],
) -> None:
    server = reloading("--interface", "asgi", "--reload", "--reload-ignore-worker-failure")
    server.edit_until_logged(BROKEN_SOURCE, "[ERROR] Unexpected exit from worker-1")
    assert server.proc.poll() is None  # the server waits for the next change
    server.edit_until_answer(app_source("fixed"), "fixed")
    assert server.stop() == 0


def test_a_broken_edit_stops_the_server_without_ignore_worker_failure(
    reloading: Callable[..., ReloadingServer],
) -> None:
    server = reloading("--interface", "asgi", "--reload")
    server.edit_until_logged(BROKEN_SOURCE, "[ERROR] Unexpected exit from worker-1")
    assert server.proc.wait(timeout=WAIT) == 1


def test_reload_hooks_and_env_files_on_file_change(
    reloading: Callable[..., ReloadingServer], tmp_path: Path
) -> None:
    env_file = tmp_path / "settings.env"  # outside the watched directory
    env_file.write_text("GRANIAN_PY_TEST_RELOAD=one\n")
    script = tmp_path / "serve.py"
    script.write_text(
        textwrap.dedent(f"""\
            import os
            from granian import Granian

            server = Granian(
                "app:app",
                interface="asgi",
                port=int(os.environ["TEST_PORT"]),
                reload=True,
                env_files=[{str(env_file)!r}],
            )

            @server.on_reload
            def report():
                print("reload hook:", os.environ["GRANIAN_PY_TEST_RELOAD"], flush=True)

            server.serve()
            """)
    )
    server = reloading(command=[sys.executable, str(script)])
    env_file.write_text("GRANIAN_PY_TEST_RELOAD=two\n")
    server.edit_until_answer(app_source("after hook"), "after hook")
    assert server.stop() == 0
    assert "reload hook: two" in server.log, server.log
