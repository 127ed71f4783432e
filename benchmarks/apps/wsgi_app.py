"""WSGI benchmark app. Routes by path; every handler does the least an app can do."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from benchmarks.apps.payloads import (
    BODY_1M,
    BODY_10K,
    CHUNK_SIZE,
    FILE_50K,
    FILE_50K_SIZE,
    HELLO,
    SLEEP_SECONDS,
)

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
Handler = Callable[[Environ, StartResponse], Iterable[bytes]]

_TEXT = ("Content-Type", "text/plain")
_BINARY = ("Content-Type", "application/octet-stream")


def _fixed(body: bytes) -> Handler:
    headers = [_TEXT, ("Content-Length", str(len(body)))]
    response = [body]

    def handler(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", headers)
        return response

    return handler


def echo(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length)
    start_response("200 OK", [_BINARY, ("Content-Length", str(len(body)))])
    return [body]


def _stream_input(stream: Any) -> Iterator[bytes]:
    while chunk := stream.read(CHUNK_SIZE):
        yield chunk


def stream_echo(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """Send the body back as it is read, without a content-length (chunked response)."""
    start_response("200 OK", [_BINARY])
    return _stream_input(environ["wsgi.input"])


_FILE_HEADERS = [_BINARY, ("Content-Length", str(FILE_50K_SIZE))]


def file_50k(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    start_response("200 OK", _FILE_HEADERS)
    file = open(FILE_50K, "rb")  # noqa: SIM115 - the server closes it via the iterable
    wrapper = environ.get("wsgi.file_wrapper")
    if wrapper is not None:
        return wrapper(file, CHUNK_SIZE)  # type: ignore[no-any-return]
    return _close_after(file)


def _close_after(file: Any) -> Iterator[bytes]:
    with file:
        yield from iter(lambda: file.read(CHUNK_SIZE), b"")


_sleep_reply = _fixed(HELLO)


def sleep_10ms(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    time.sleep(SLEEP_SECONDS)
    return _sleep_reply(environ, start_response)


def not_found(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    start_response("404 Not Found", [_TEXT])
    return [b"not found"]


ROUTES: dict[str, Handler] = {
    "/hello": _fixed(HELLO),
    "/10k": _fixed(BODY_10K),
    "/1m": _fixed(BODY_1M),
    "/echo": echo,
    "/stream-echo": stream_echo,
    "/file50k": file_50k,
    "/sleep10ms": sleep_10ms,
}


def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    return ROUTES.get(environ["PATH_INFO"], not_found)(environ, start_response)
