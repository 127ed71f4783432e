"""ASGI lifespan: startup/shutdown answers, failures, apps without lifespan, ``asginl``."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from granian_core.config import ServerConfig
from granian_core.errors import FatalError
from granian_core.interface import StartupFailed
from granian_core.server.embed import EmbeddedServer

from tests.apps import asgi_lifespan
from tests.conftest import free_port

WAIT = 10.0


def _drain(events: Any) -> list[str]:
    seen = []
    while not events.empty():
        seen.append(events.get_nowait())
    return seen


def test_startup_failed_stops_the_server_with_the_message() -> None:
    port = free_port()
    server = EmbeddedServer(
        asgi_lifespan.failing_startup,
        ServerConfig(interface="asgi", address="127.0.0.1", port=port),
    )
    with pytest.raises(StartupFailed, match="database unreachable") as info:
        asyncio.run(server.serve())
    assert isinstance(info.value, FatalError)  # what code embedding Granian catches
    assert all(sock.fileno() == -1 for sock in server.sockets)
    # Nothing left listening: not even the worker's duplicates, which the kernel would
    # have gone on accepting connections for.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5)


def test_app_raising_on_lifespan_is_served_without_it(
    serve: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    _drain(asgi_lifespan.events)
    with (
        caplog.at_level(logging.WARNING),
        serve(asgi_lifespan.no_lifespan, interface="asgi") as srv,
    ):
        response = httpx.get(srv.url, timeout=WAIT)
    assert response.text == "served"
    assert _drain(asgi_lifespan.events) == ["lifespan called"]
    assert "continuing without Lifespan support" in caplog.text


def test_app_returning_from_lifespan_is_served(serve: Callable[..., Any]) -> None:
    with serve(asgi_lifespan.returns_at_once, interface="asgi") as srv:
        assert httpx.get(srv.url, timeout=WAIT).text == "served"


def test_wrong_lifespan_answer_is_a_lifespan_error(
    serve: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.WARNING),
        serve(asgi_lifespan.wrong_answer, interface="asgi") as srv,
    ):
        assert httpx.get(srv.url, timeout=WAIT).text == "served"
    assert "continuing without Lifespan support" in caplog.text


def test_shutdown_failure_is_logged(
    serve: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    _drain(asgi_lifespan.events)
    with (
        caplog.at_level(logging.ERROR),
        serve(asgi_lifespan.failing_shutdown, interface="asgi") as srv,
    ):
        assert httpx.get(srv.url, timeout=WAIT).text == "served"
    assert _drain(asgi_lifespan.events) == ["shutdown received"]
    assert "flush failed" in caplog.text


def test_asginl_never_runs_lifespan(serve: Callable[..., Any]) -> None:
    _drain(asgi_lifespan.events)
    with serve(asgi_lifespan.no_lifespan, interface="asginl") as srv:
        assert httpx.get(srv.url, timeout=WAIT).text == "served"
    assert _drain(asgi_lifespan.events) == []


def test_asginl_ignores_startup_failure(serve: Callable[..., Any]) -> None:
    with serve(asgi_lifespan.failing_startup, interface="asginl") as srv:
        assert httpx.get(srv.url, timeout=WAIT).text == "served"


# -- through the command line -------------------------------------------------------------
def test_cli_startup_failure_exits_non_zero_with_message(granian_proc: Callable[..., Any]) -> None:
    proc = granian_proc(
        "--interface", "asgi", "tests.apps.asgi_lifespan:failing_startup", wait=False
    )
    proc.proc.wait(timeout=30)
    code, output = proc.stop()
    assert code != 0
    assert "database unreachable" in output
    assert "Started worker-1" not in output  # only once startup succeeded (as Granian)


def test_cli_asginl_serves_despite_failing_lifespan(granian_proc: Callable[..., Any]) -> None:
    proc = granian_proc("--interface", "asginl", "tests.apps.asgi_lifespan:failing_startup")
    assert httpx.get(proc.url, timeout=WAIT).text == "served"
    code, _ = proc.stop()
    assert code == 0


def test_cli_serves_the_hello_example(granian_proc: Callable[..., Any]) -> None:
    proc = granian_proc("--interface", "asgi", "examples.hello_asgi:app")
    response = httpx.get(proc.url, timeout=WAIT)
    assert response.status_code == 200
    assert response.text == "Hello, world!"
    assert response.headers["content-type"] == "text/plain"
    assert proc.stop()[0] == 0
