"""Views and URLs of a minimal Django project (``ROOT_URLCONF``).

The settings are configured by the test module (tests/test_wsgi_django.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.urls import path


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


urlpatterns = [
    path("", index),
    path("items/<int:item_id>", item),
    path("form", form),
    path("upload", upload),
    path("stream", stream),
]
