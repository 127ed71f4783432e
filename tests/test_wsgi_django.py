"""A Django app served by the WSGI adapter, over real sockets.

Django's settings are process-wide: they are configured here, once, before the
WSGI handler is built. Views and URLs live in tests/apps/wsgi_django.py.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

pytest.importorskip("django")

from django.conf import settings  # noqa: E402

WAIT = 10.0


def _django_application() -> Any:
    if not settings.configured:
        settings.configure(
            DEBUG=False,
            SECRET_KEY="granian-py-tests-only",
            ALLOWED_HOSTS=["127.0.0.1", "localhost"],
            ROOT_URLCONF="tests.apps.wsgi_django",
            INSTALLED_APPS=[],
            MIDDLEWARE=[],
            DATABASES={},
            USE_TZ=True,
            # Small, so the upload test also goes through Django's temporary-file handler.
            FILE_UPLOAD_MAX_MEMORY_SIZE=64 * 1024,
            LOGGING_CONFIG=None,
        )
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    from tests.conftest import run_server

    with (
        run_server(_django_application(), interface="wsgi") as srv,
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
