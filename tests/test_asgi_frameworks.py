"""Starlette and FastAPI apps served by the ASGI adapter, end to end."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.apps import asgi_fastapi, asgi_starlette

WAIT = 10.0


@pytest.fixture
def starlette(serve: Callable[..., Any]) -> Iterator[httpx.Client]:
    with (
        serve(asgi_starlette.app, interface="asgi") as srv,
        httpx.Client(base_url=srv.url, timeout=WAIT) as http,
    ):
        yield http


@pytest.fixture
def fastapi(serve: Callable[..., Any]) -> Iterator[httpx.Client]:
    with (
        serve(asgi_fastapi.app, interface="asgi") as srv,
        httpx.Client(base_url=srv.url, timeout=WAIT) as http,
    ):
        yield http


# -- Starlette ---------------------------------------------------------------------------
def test_starlette_routes(starlette: httpx.Client) -> None:
    assert starlette.get("/").text == "home"
    assert starlette.get("/users/7", params={"q": "x y"}).json() == {"id": 7, "q": "x y"}
    assert starlette.get("/users/not-a-number").status_code == 404
    assert starlette.post("/").status_code == 405


def test_starlette_bodies(starlette: httpx.Client) -> None:
    payload = b"\x00\x01binary" * 5000
    echoed = starlette.post("/echo", content=payload, headers={"content-type": "app/bin"})
    assert echoed.content == payload
    assert echoed.headers["content-type"] == "app/bin"
    posted = starlette.post("/json", json={"b": [1, 2], "a": "é"})
    assert posted.json() == {"received": {"b": [1, 2], "a": "é"}, "keys": ["a", "b"]}
    form = starlette.post("/form", data={"name": "granian", "lang": "py"})
    assert form.json() == {"name": "granian", "lang": "py"}


def test_starlette_streaming(starlette: httpx.Client) -> None:
    with starlette.stream("GET", "/stream") as response:
        lines = [json.loads(line) for line in response.iter_lines() if line]
    assert response.headers["content-type"] == "application/x-ndjson"
    assert lines == [{"n": index} for index in range(10)]


def test_starlette_file_response_uses_pathsend(starlette: httpx.Client, tmp_path: Path) -> None:
    target = tmp_path / "file.bin"
    target.write_bytes(b"0123456789" * 30000)
    response = starlette.get("/file", params={"path": str(target)})
    assert response.status_code == 200
    assert response.content == target.read_bytes()
    assert response.headers["content-length"] == "300000"


def test_starlette_background_task(starlette: httpx.Client) -> None:
    response = starlette.get("/background", params={"tag": "star"})
    assert response.status_code == 202
    assert response.text == "accepted"
    assert asgi_starlette.background_done.get(timeout=WAIT) == "star"


def test_starlette_lifespan_state(starlette: httpx.Client) -> None:
    assert starlette.get("/state").text == "connected"


# -- FastAPI -----------------------------------------------------------------------------
def test_fastapi_path_and_query(fastapi: httpx.Client) -> None:
    assert fastapi.get("/items/3", params={"q": "hi"}).json() == {"item_id": 3, "q": "hi"}
    missing = fastapi.get("/items/0")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "no item zero"}
    assert fastapi.get("/items/abc").status_code == 422
    assert fastapi.get("/nowhere").status_code == 404


def test_fastapi_json_body(fastapi: httpx.Client) -> None:
    created = fastapi.post("/items", json={"name": "pen", "price": 1.5, "tags": ["a"]})
    assert created.status_code == 201
    assert created.json() == {"name": "pen", "total": 3.0, "tags": ["a"]}
    invalid = fastapi.post("/items", json={"name": "pen"})
    assert invalid.status_code == 422


def test_fastapi_streaming(fastapi: httpx.Client) -> None:
    response = fastapi.get("/stream")
    assert response.text == "".join(f"part-{index}\n" for index in range(5))


def test_fastapi_background_task(fastapi: httpx.Client) -> None:
    response = fastapi.post("/notify", params={"tag": "fast"})
    assert response.status_code == 202
    assert response.json() == {"queued": "fast"}
    assert asgi_fastapi.background_done.get(timeout=WAIT) == "fast"


def test_fastapi_lifespan_state(fastapi: httpx.Client) -> None:
    assert fastapi.get("/state").json() == {"answer": 42}


def test_fastapi_openapi(fastapi: httpx.Client) -> None:
    schema = fastapi.get("/openapi.json").json()
    assert "/items/{item_id}" in schema["paths"]
