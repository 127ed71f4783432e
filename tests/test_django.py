"""A Django project served by the WSGI and the ASGI adapters, over real sockets.

Django's settings are process-wide and set once (tests/apps/django_site.py); every test
runs against both handlers. Under ASGI, Django also listens for ``http.disconnect``
while its view runs, so a ``receive()`` that returned early would cancel the response.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.apps import django_site

WAIT = 10.0

# Django's own advice when a view's iterator does not match the handler; it is expected here.
pytestmark = pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume:Warning")


def _django_application(interface: str) -> Any:
    django_site.configure()
    if interface == "wsgi":
        from django.core.wsgi import get_wsgi_application

        return get_wsgi_application()
    from django.core.asgi import get_asgi_application

    return get_asgi_application()


@pytest.fixture(scope="module", params=["wsgi", "asgi"])
def client(request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    from tests.conftest import run_server

    interface = str(request.param)
    with (
        run_server(_django_application(interface), interface=interface) as srv,
        httpx.Client(base_url=srv.url, timeout=WAIT) as http,
    ):
        yield http


def test_routes(client: httpx.Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.text == "Hello from Django"
    assert client.get("/items/7", params={"q": "é"}).json() == {
        "id": 7,
        "q": "é",
        "path": "/items/7",
        "method": "GET",
        "host": str(client.base_url.netloc.decode()),
        "secure": False,
    }
    assert client.get("/missing").status_code == 404


def test_disallowed_host_is_djangos_400(client: httpx.Client) -> None:
    assert client.get("/items/1", headers={"host": "evil.example"}).status_code == 400


def test_form_post(client: httpx.Client) -> None:
    response = client.post("/form", data={"name": "Ada", "tags": ["a", "b"]})
    assert response.json() == {"fields": {"name": ["Ada"], "tags": ["a", "b"]}}


def test_file_upload(client: httpx.Client) -> None:
    data = os.urandom(1024 * 1024 + 5)
    response = client.post("/upload", files={"file": ("data.bin", data)}, data={"note": "hi"})
    assert response.json() == {
        "filename": "data.bin",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "note": "hi",
    }


def test_streaming_response(client: httpx.Client) -> None:
    with client.stream("GET", "/stream", params={"n": "100"}) as response:
        assert response.status_code == 200
        assert response.headers.get("transfer-encoding") == "chunked"
        lines = list(response.iter_lines())
    assert lines == [f"event {i}" for i in range(100)]


def test_async_view(client: httpx.Client) -> None:
    response = client.post("/async-items/3", content=b"payload")
    assert response.json() == {"id": 3, "body": "payload"}


def test_async_streaming_response(client: httpx.Client) -> None:
    with client.stream("GET", "/async-stream", params={"n": "50"}) as response:
        assert response.status_code == 200
        lines = list(response.iter_lines())
    assert lines == [f"event {i}" for i in range(50)]


@pytest.mark.parametrize("size", [20_000, 300_000])
def test_file_response(client: httpx.Client, tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    served = tmp_path / "served.bin"
    served.write_bytes(data)
    django_site.served_file = served
    response = client.get("/file")
    assert response.status_code == 200
    assert response.headers["content-length"] == str(size)
    assert response.content == data
