"""--process-name (setproctitle): the main process and worker titles, read from /proc."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import httpx
import pytest

from .conftest import GranianProcess

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/<pid>/cmdline")

APP = "tests.apps.process_asgi:app"


def _title(pid: int) -> str:
    with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
        return cmdline.read().split(b"\0")[0].decode()


def _worker_pid(url: str) -> int:
    # The main process titles itself before it spawns the worker that answers.
    return int(httpx.get(url, timeout=10).text)


def _wait_for_title(pid: int, expected: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    title = _title(pid)
    while title != expected and time.monotonic() < deadline:
        time.sleep(0.05)  # the worker titles itself as it starts, maybe after answering
        title = _title(pid)
    return title


def test_process_name_titles_main_and_workers(
    granian_proc: Callable[..., GranianProcess],
) -> None:
    server = granian_proc("--process-name", "granian-py-test", "--interface", "asgi", APP)
    worker = _worker_pid(server.url)
    assert _title(server.proc.pid) == "granian-py-test"
    assert _wait_for_title(worker, "granian-py-test worker-1") == "granian-py-test worker-1"
    code, _ = server.stop()
    assert code == 0


def test_default_titles_when_setproctitle_is_installed(
    granian_proc: Callable[..., GranianProcess],
) -> None:
    _assert_default_titles(granian_proc("--interface", "asgi", APP))


def test_an_empty_process_name_keeps_the_default_titles(
    granian_proc: Callable[..., GranianProcess],
) -> None:
    """``--process-name ''`` titled the main process '' (ps shows '?') and the workers
    ' worker-1'; Granian treats it as unset."""
    _assert_default_titles(granian_proc("--process-name", "", "--interface", "asgi", APP))


def _assert_default_titles(server: GranianProcess) -> None:
    """``granian {interface} {bind} {target}`` for the main process, `` worker-1`` added."""
    worker = _worker_pid(server.url)
    main = f"granian asgi 127.0.0.1:{server.port} {APP}"
    assert _title(server.proc.pid) == main
    assert _wait_for_title(worker, f"{main} worker-1") == f"{main} worker-1"
    code, _ = server.stop()
    assert code == 0
