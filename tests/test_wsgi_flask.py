"""A Flask app served by the WSGI adapter, over real sockets."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

pytest.importorskip("flask")

from tests.apps.wsgi_flask import app as flask_app  # noqa: E402

WAIT = 10.0


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    from tests.conftest import run_server

    with (
        run_server(flask_app, interface="wsgi") as srv,
        httpx.Client(base_url=srv.url, timeout=WAIT) as http,
    ):
        yield http


def test_routes(client: httpx.Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.text == "Hello from Flask"
    assert client.get("/items/42", params={"q": "x y"}).json() == {
        "id": 42,
        "q": "x y",
        "path": "/items/42",
    }
    assert client.get("/missing").status_code == 404
    assert client.post("/").status_code == 405


def test_form_post(client: httpx.Client) -> None:
    response = client.post("/form", data={"name": "Ada", "tags": ["a", "b"], "city": "Zürich"})
    assert response.json() == {"fields": {"name": ["Ada"], "tags": ["a", "b"], "city": ["Zürich"]}}


def test_file_upload(client: httpx.Client) -> None:
    data = os.urandom(2 * 1024 * 1024 + 3)
    response = client.post(
        "/upload", files={"file": ("blob.bin", data)}, data={"note": "multipart"}
    )
    assert response.json() == {
        "filename": "blob.bin",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "note": "multipart",
    }


def test_streaming_response(client: httpx.Client) -> None:
    with client.stream("GET", "/stream", params={"n": "200"}) as response:
        assert response.status_code == 200
        assert response.headers.get("transfer-encoding") == "chunked"
        lines = list(response.iter_lines())
    assert lines == [f"event {i}" for i in range(200)]


def test_unhandled_view_error_is_flasks_500(client: httpx.Client) -> None:
    # Flask turns the view's exception into its own 500 page; the server keeps serving.
    assert client.get("/fail").status_code == 500
    assert client.get("/").status_code == 200


def test_concurrent_requests(client: httpx.Client) -> None:
    results: list[Any] = []
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: client.get(f"/items/{i}").json()["id"], range(40)))
    assert results == list(range(40))
