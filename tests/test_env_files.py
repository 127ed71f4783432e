"""--env-files: variables from dotenv files reach the app; the real environment wins."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import httpx
import pytest
from granian_core.server.envfiles import EnvFiles

from .conftest import GranianProcess

FILE_ONLY = "GRANIAN_PY_TEST_FILE_ONLY"
BOTH = "GRANIAN_PY_TEST_BOTH"
LATER = "GRANIAN_PY_TEST_LATER"


def _get(url: str) -> str:
    return httpx.get(url, timeout=10).text


def _wait_for_value(url: str, expected: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        try:
            value = _get(url)
        except httpx.TransportError:
            value = None
        if value == expected:
            return
        time.sleep(0.1)
    raise AssertionError(f"{url} answered {value!r}, never {expected!r}")


@pytest.fixture
def env_files(tmp_path: Path) -> tuple[Path, Path]:
    first = tmp_path / "first.env"
    first.write_text(f"{FILE_ONLY}=from-file\n{BOTH}=from-file\n{LATER}=first\n")
    second = tmp_path / "second.env"
    second.write_text(f"{LATER}=second\n")
    return first, second


def test_asgi_app_sees_the_files_and_reload_rereads_them(
    granian_proc: Callable[..., GranianProcess], env_files: tuple[Path, Path]
) -> None:
    first, second = env_files
    server = granian_proc(
        "--interface", "asgi",
        "--env-files", str(first),
        "--env-files", str(second),
        "--respawn-interval", "0.1",
        "tests.apps_cli.hello:app",
        env={BOTH: "from-real-env"},
    )  # fmt: skip
    assert _get(f"{server.url}/env/{FILE_ONLY}") == "from-file"
    assert _get(f"{server.url}/env/{BOTH}") == "from-real-env"
    assert _get(f"{server.url}/env/{LATER}") == "second"
    # An edited file takes effect on reload (SIGHUP); the real environment still wins.
    first.write_text(f"{FILE_ONLY}=edited\n{BOTH}=edited\n")
    os.kill(server.proc.pid, signal.SIGHUP)
    _wait_for_value(f"{server.url}/env/{FILE_ONLY}", "edited")
    assert _get(f"{server.url}/env/{BOTH}") == "from-real-env"
    code, _ = server.stop()
    assert code == 0


def test_wsgi_environ_holds_the_files_variables(
    granian_proc: Callable[..., GranianProcess], env_files: tuple[Path, Path]
) -> None:
    first, _ = env_files
    server = granian_proc(
        "--interface", "wsgi", "--env-files", str(first), "tests.apps.env_wsgi:app"
    )
    assert _get(f"{server.url}/{FILE_ONLY}") == "from-file"
    code, _ = server.stop()
    assert code == 0


def test_main_process_loader_never_overrides_the_real_environment(
    env_files: tuple[Path, Path],
) -> None:
    first, second = env_files
    with mock.patch.dict(os.environ, clear=False):  # restores the environment afterwards
        os.environ[BOTH] = "real"
        os.environ.pop(FILE_ONLY, None)
        os.environ.pop(LATER, None)
        loader = EnvFiles([first, second])  # snapshots the real names now
        loader.load()
        assert (os.environ[FILE_ONLY], os.environ[BOTH], os.environ[LATER]) == (
            "from-file",
            "real",
            "second",
        )
        first.write_text(f"{FILE_ONLY}=edited\n")
        loader.load()
        assert os.environ[FILE_ONLY] == "edited"  # a file set it, so a file may change it
