"""A minimal Django project: its settings, views and URLs (``ROOT_URLCONF``).

Django's settings are process-wide: :func:`configure` sets them once, before the
WSGI or ASGI handler is built (tests/test_django.py serves both).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from django.conf import settings
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.urls import path

#: Served by the ``file`` view; the test sets it (the server runs in the test process).
served_file = Path(__file__)


def configure() -> None:
    if settings.configured:
        return
    settings.configure(
        DEBUG=False,
        SECRET_KEY="granian-py-tests-only",
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        ROOT_URLCONF="tests.apps.django_site",
        INSTALLED_APPS=[],
        MIDDLEWARE=[],
        DATABASES={},
        USE_TZ=True,
        # Small, so the upload test also goes through Django's temporary-file handler.
        FILE_UPLOAD_MAX_MEMORY_SIZE=64 * 1024,
        LOGGING_CONFIG=None,
    )


def index(request: HttpRequest) -> HttpResponse:
    return HttpResponse("Hello from Django", content_type="text/plain")


def item(request: HttpRequest, item_id: int) -> JsonResponse:
    return JsonResponse(
        {
            "id": item_id,
            "q": request.GET.get("q"),
            "path": request.path,
            "method": request.method,
            "host": request.get_host(),  # validated against ALLOWED_HOSTS
            "secure": request.is_secure(),
        }
    )


def form(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"fields": dict(request.POST.lists())})


def upload(request: HttpRequest) -> JsonResponse:
    uploaded = request.FILES["file"]
    digest = hashlib.sha256()
    size = 0
    for chunk in uploaded.chunks():
        digest.update(chunk)
        size += len(chunk)
    return JsonResponse(
        {
            "filename": uploaded.name,
            "size": size,
            "sha256": digest.hexdigest(),
            "note": request.POST.get("note"),
        }
    )


def stream(request: HttpRequest) -> StreamingHttpResponse:
    count = int(request.GET.get("n", "5"))

    def generate() -> Iterator[bytes]:
        for index in range(count):
            yield f"event {index}\n".encode()

    return StreamingHttpResponse(generate(), content_type="text/plain")


async def async_item(request: HttpRequest, item_id: int) -> JsonResponse:
    await asyncio.sleep(0)
    return JsonResponse({"id": item_id, "body": request.body.decode()})


def async_stream(request: HttpRequest) -> StreamingHttpResponse:
    count = int(request.GET.get("n", "5"))

    async def generate() -> AsyncIterator[bytes]:
        for index in range(count):
            await asyncio.sleep(0)
            yield f"event {index}\n".encode()

    return StreamingHttpResponse(generate(), content_type="text/plain")


def file(request: HttpRequest) -> FileResponse:
    return FileResponse(served_file.open("rb"), content_type="application/octet-stream")


urlpatterns = [
    path("", index),
    path("items/<int:item_id>", item),
    path("form", form),
    path("upload", upload),
    path("stream", stream),
    path("async-items/<int:item_id>", async_item),
    path("async-stream", async_stream),
    path("file", file),
]
