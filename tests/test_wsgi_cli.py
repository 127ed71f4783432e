"""The WSGI interface through the real command line: ``python -m granian --interface wsgi``."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from typing import Any

import httpx

WAIT = 10.0


def test_hello_example(granian_proc: Callable[..., Any]) -> None:
    proc = granian_proc("--interface", "wsgi", "examples.hello_wsgi:app")
    response = httpx.get(proc.url, timeout=WAIT)
    assert response.status_code == 200
    assert response.text == "Hello, world!"
    assert response.headers["content-type"] == "text/plain"
    assert response.headers["content-length"] == "13"


def test_multiprocess_flag_and_prefix(granian_proc: Callable[..., Any]) -> None:
    proc = granian_proc(
        "--interface",
        "wsgi",
        "--workers",
        "2",
        "--url-path-prefix",
        "/app",
        "tests.apps.wsgi_basic:app",
    )
    environ = httpx.get(f"{proc.url}/app/environ", timeout=WAIT).json()
    assert environ["wsgi.multiprocess"] is True
    assert environ["SCRIPT_NAME"] == "/app"
    assert environ["PATH_INFO"] == "/environ"


def test_blocking_threads_bound_the_pool(granian_proc: Callable[..., Any]) -> None:
    proc = granian_proc(
        "--interface", "wsgi", "--blocking-threads", "2", "tests.apps.wsgi_basic:app"
    )
    with (
        httpx.Client(base_url=proc.url, timeout=WAIT) as client,
        concurrent.futures.ThreadPoolExecutor(8) as pool,
    ):
        names = set(pool.map(lambda _: client.get("/slow").text, range(8)))
    assert names == {"granian-blocking-1", "granian-blocking-2"}
