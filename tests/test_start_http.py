"""``Interface.start_http``: a request served without a task, under the rules of handle_http."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

import httpx
import pytest
from granian_core.exchange import HTTPExchange
from granian_core.interface import Interface

WAIT = 10.0


class Started(Interface):
    """Serves each path its own way: most without a task, ``/task`` through handle_http."""

    def start_http(self, exchange: HTTPExchange) -> asyncio.Future[None] | None:
        path = exchange.raw_path
        if path == b"/task":
            return None
        if path == b"/raise-now":
            raise ValueError("start_http failed")
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        loop.call_soon(self._finish, exchange, done, path)  # "later", as a thread would
        return done

    def _finish(self, exchange: HTTPExchange, done: asyncio.Future[None], path: bytes) -> None:
        if path == b"/ok":
            exchange.send_response(200, [(b"x-via", b"start_http")], b"direct")
            done.set_result(None)
        elif path == b"/fail-before":
            done.set_exception(RuntimeError("failed before responding"))
        elif path == b"/fail-after-start":
            exchange.start_response(200, [])
            exchange.write(b"part")
            done.set_exception(RuntimeError("failed mid-response"))
        elif path == b"/nothing":
            done.set_result(None)
        elif path == b"/cancel":
            exchange.start_response(200, [])
            exchange.write(b"part")
            done.cancel()

    def handle_http(self, exchange: HTTPExchange) -> Awaitable[None]:
        return self._task(exchange)

    async def _task(self, exchange: HTTPExchange) -> None:
        exchange.send_response(200, [(b"x-via", b"task")], b"task")


@pytest.fixture(scope="module")
def srv() -> Any:
    from tests.conftest import run_server

    # One slot: a handler whose end were never counted would block every later request.
    with run_server(None, interface=Started, backpressure=1) as handle:
        yield handle


@pytest.fixture
def client(srv: Any) -> Any:
    with httpx.Client(base_url=srv.url, timeout=WAIT) as http:
        yield http


def test_a_started_request_is_answered_and_its_slot_freed(client: httpx.Client) -> None:
    for _ in range(3):
        response = client.get("/ok")
        assert (response.status_code, response.text) == (200, "direct")
        assert response.headers["x-via"] == "start_http"


def test_none_leaves_the_request_to_handle_http(client: httpx.Client) -> None:
    response = client.get("/task")
    assert (response.status_code, response.headers["x-via"]) == (200, "task")


def test_a_failure_before_the_response_is_a_logged_500(
    client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="_granian"):
        for path in ("/fail-before", "/raise-now"):
            response = client.get(path)
            assert (response.status_code, response.text) == (500, "Internal server error")
    logged = [
        r for r in caplog.records if r.getMessage() == "Application callable raised an exception"
    ]
    assert [str(r.exc_info[1]) for r in logged if r.exc_info] == [
        "failed before responding",
        "start_http failed",
    ]
    assert client.get("/ok").status_code == 200


def test_a_failure_mid_response_drops_the_connection(client: httpx.Client) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        client.get("/fail-after-start")
    assert client.get("/ok").status_code == 200


def test_a_cancelled_future_aborts_the_exchange(client: httpx.Client) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        client.get("/cancel")
    assert client.get("/ok").status_code == 200


def test_no_response_at_all_is_a_500(client: httpx.Client) -> None:
    response = client.get("/nothing")
    assert (response.status_code, response.content) == (500, b"Internal server error")
    assert client.get("/ok").status_code == 200
