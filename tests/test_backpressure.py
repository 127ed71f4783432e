"""`--backpressure`: at most that many requests in flight per worker, for every interface."""

from __future__ import annotations

import concurrent.futures
import socket
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from .apps.concurrency import Gauge, asgi_app, rsgi_app, wsgi_app

APPS = {"asgi": asgi_app, "rsgi": rsgi_app, "wsgi": wsgi_app}
REQUESTS = 12
LIMIT = 3
DELAY = 0.15


def _fire(url: str, count: int) -> list[int]:
    """``count`` concurrent requests, each on its own connection."""

    def one(_: int) -> int:
        return httpx.get(url, timeout=30).status_code

    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


@pytest.mark.parametrize("interface", ["asgi", "rsgi", "wsgi"])
def test_requests_in_flight_never_exceed_the_limit(
    serve: Callable[..., Any], interface: str
) -> None:
    gauge = Gauge()
    options: dict[str, Any] = {"backpressure": LIMIT}
    if interface == "wsgi":
        options["blocking_threads"] = 8  # more threads than the limit: the limit must bind
    with serve(APPS[interface](gauge, DELAY), interface=interface, **options) as srv:
        statuses = _fire(srv.url, REQUESTS)
    assert statuses == [200] * REQUESTS
    assert gauge.peak == LIMIT


@pytest.mark.parametrize("interface", ["asgi", "wsgi"])
def test_without_a_tight_limit_requests_run_together(
    serve: Callable[..., Any], interface: str
) -> None:
    gauge = Gauge()
    options: dict[str, Any] = {"blocking_threads": REQUESTS} if interface == "wsgi" else {}
    with serve(APPS[interface](gauge, 0.5), interface=interface, **options) as srv:
        statuses = _fire(srv.url, REQUESTS)
    assert statuses == [200] * REQUESTS
    assert gauge.peak > LIMIT  # the bound above is the option's doing, not the test's


def test_saturated_worker_stops_accepting_until_a_request_finishes(
    serve: Callable[..., Any],
) -> None:
    gauge = Gauge()
    with serve(asgi_app(gauge, 0.6), interface="asgi", backpressure=1) as srv:
        worker = srv.server.worker
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            first = pool.submit(httpx.get, srv.url, timeout=30)
            _wait_until(lambda: gauge.current == 1)
            # The kernel completes this handshake (backlog), but the worker does not accept.
            with socket.create_connection((srv.host, srv.port)) as waiting:
                time.sleep(0.2)
                assert len(worker.state.connections) == 1
                assert first.result().status_code == 200
                _wait_until(lambda: len(worker.state.connections) >= 1 and gauge.current == 0)
                waiting.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                waiting.settimeout(10)
                assert waiting.recv(1024).startswith(b"HTTP/1.1 200 ")
    assert gauge.peak == 1


def _wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)
