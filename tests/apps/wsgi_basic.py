"""Raw WSGI test app: one route per behaviour the adapter must get right.

The in-thread server shares this module with the tests, so the app reports what
it saw (``close()`` calls, re-raised errors, stream progress) through
``REPORTS``, a thread-safe queue the tests read with a timeout. The same module
also serves as a subprocess target (``tests.apps.wsgi_basic:app``).
"""

from __future__ import annotations

import hashlib
import io
import json
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import parse_qs

Environ = dict[str, Any]
StartResponse = Callable[..., Callable[[bytes], None]]

REPORTS: queue.Queue[tuple[str, Any]] = queue.Queue()

#: Wait bound for anything an app waits on from the test thread.
WAIT = 10.0
#: Chunk and total size of the backpressure stream (the total is never reached).
STREAM_CHUNK = 64 * 1024
STREAM_TOTAL = 512 * 1024 * 1024
stream_progress = {"sent": 0}
#: Requests inside /slow right now, and the most seen at once.
_slow = {"now": 0, "max": 0}
_slow_lock = threading.Lock()

TEXT = [("content-type", "text/plain")]
JSON = [("content-type", "application/json")]


def _query(environ: Environ) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(environ["QUERY_STRING"]).items()}


def _json(start_response: StartResponse, payload: Any, status: str = "200 OK") -> list[bytes]:
    start_response(status, JSON)
    return [json.dumps(payload).encode()]


class Tracked:
    """A response iterable that reports its ``close()`` call."""

    def __init__(self, name: str, chunks: Iterable[bytes], fail_at: int | None = None) -> None:
        self.name = name
        self.chunks = list(chunks)
        self.fail_at = fail_at

    def __iter__(self) -> Iterator[bytes]:
        for index, chunk in enumerate(self.chunks):
            if index == self.fail_at:
                raise RuntimeError(f"{self.name} failed while iterating")
            yield chunk

    def close(self) -> None:
        REPORTS.put(("closed", self.name))


class FailingClose(Tracked):
    """A complete iterable whose ``close()`` raises (a failing request_finished receiver)."""

    def close(self) -> None:
        super().close()
        raise RuntimeError(f"{self.name} failed in close()")


class TrackedList(list[bytes]):
    """A list body (the fast path) with a ``close()`` the server must still call."""

    def close(self) -> None:
        REPORTS.put(("closed", "list"))


# -- environ ------------------------------------------------------------------------------
def environ_route(environ: Environ, start_response: StartResponse) -> list[bytes]:
    described: dict[str, Any] = {}
    for key, value in environ.items():
        if isinstance(value, (str, bool, int)) or value is None:
            described[key] = value
        elif isinstance(value, tuple):
            described[key] = list(value)
        else:
            described[key] = f"<{type(value).__name__}>"
    described["wsgi.errors is sys.stderr"] = environ["wsgi.errors"] is sys.stderr
    described["wsgi.file_wrapper name"] = environ["wsgi.file_wrapper"].__name__
    return _json(start_response, described)


# -- request body -------------------------------------------------------------------------
def read_route(environ: Environ, start_response: StartResponse) -> list[bytes]:
    stream = environ["wsgi.input"]
    options = _query(environ)
    mode = options.get("mode", "all")
    size = int(options.get("size", "7"))
    pieces: list[bytes]
    if mode == "all":
        pieces = [stream.read()]
    elif mode == "none":
        pieces = [stream.read(None)]
    elif mode == "sized":
        pieces = list(iter(lambda: stream.read(size), b""))
    elif mode == "readline":
        pieces = list(iter(stream.readline, b""))
    elif mode == "readline-sized":
        pieces = list(iter(lambda: stream.readline(size), b""))
    elif mode == "readlines":
        pieces = stream.readlines()
    elif mode == "readlines-hint":
        pieces = stream.readlines(size)
    elif mode == "iter":
        pieces = list(stream)
    else:
        raise ValueError(mode)
    after = stream.read()  # the end stays the end
    return _json(
        start_response,
        {"pieces": [p.decode("latin-1") for p in pieces], "after": after.decode("latin-1")},
    )


def upload_hash_route(environ: Environ, start_response: StartResponse) -> list[bytes]:
    stream = environ["wsgi.input"]
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(64 * 1024):
        digest.update(chunk)
        size += len(chunk)
    return _json(start_response, {"size": size, "sha256": digest.hexdigest()})


def upload_report_route(environ: Environ, start_response: StartResponse) -> list[bytes]:
    """Reads the body, reporting how reading ended (the client may vanish midway)."""
    stream = environ["wsgi.input"]
    size = 0
    try:
        while chunk := stream.read(64 * 1024):
            size += len(chunk)
    except OSError as exc:
        REPORTS.put(("read-error", (type(exc).__name__, size)))
        raise
    REPORTS.put(("read-complete", size))
    return _json(start_response, {"size": size})


#: Set by a test to let /upload-stalled-reader read the rest of its body.
READER_RELEASE = threading.Event()


def upload_stalled_reader_route(environ: Environ, start_response: StartResponse) -> list[bytes]:
    """Reads 1 KiB, then stops reading until the test sets READER_RELEASE."""
    stream = environ["wsgi.input"]
    first = len(stream.read(1024))
    REPORTS.put(("read-first", first))
    READER_RELEASE.wait(WAIT)
    try:
        rest = len(stream.read())
    except OSError as exc:
        REPORTS.put(("read-error", (type(exc).__name__, first)))
        raise
    return _json(start_response, {"size": first + rest})


# -- response forms -----------------------------------------------------------------------
def hello_route(environ: Environ, start_response: StartResponse) -> list[bytes]:
    start_response("200 OK", TEXT)
    return [b"Hello, ", b"world!"]


def tuple_route(environ: Environ, start_response: StartResponse) -> tuple[bytes, ...]:
    start_response("201 Created", [*TEXT, ("X-Custom", "yes"), ("Set-Cookie", "a=1")])
    return (b"tu", b"ple")


def empty_route(environ: Environ, start_response: StartResponse) -> list[bytes]:
    start_response("204 No Content", [])
    return []


def generator_route(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
    options = _query(environ)
    count = int(options.get("n", "3"))
    start_response("200 OK", TEXT)
    yield b""  # empty chunks are skipped
    for index in range(count):
        yield f"chunk-{index};".encode()


def lazy_start_route(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
    # start_response may be called during the first iteration.
    yield from ()
    start_response("200 OK", TEXT)
    yield b"late start"


def write_route(environ: Environ, start_response: StartResponse) -> list[bytes]:
    write = start_response("200 OK", TEXT)
    write(b"written-1;")
    write(b"written-2;")
    return [b"returned"]


def write_only_route(environ: Environ, start_response: StartResponse) -> list[bytes]:
    write = start_response("200 OK", TEXT)
    write(b"only written")
    return []


def content_length_route(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
    start_response("200 OK", [*TEXT, ("Content-Length", "10")])
    yield b"01234"
    yield b"56789"


def stream_big_route(environ: Environ, start_response: StartResponse) -> Tracked:
    """Yields far more than any socket buffer holds: progress shows write backpressure."""
    stream_progress["sent"] = 0

    def chunks() -> Iterator[bytes]:
        chunk = b"x" * STREAM_CHUNK
        while stream_progress["sent"] < STREAM_TOTAL:
            stream_progress["sent"] += len(chunk)
            yield chunk

    start_response("200 OK", TEXT)
    return _LazyTracked("big-stream", chunks())


class _LazyTracked:
    def __init__(self, name: str, chunks: Iterator[bytes]) -> None:
        self.name = name
        self.chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        return self.chunks

    def close(self) -> None:
        REPORTS.put(("closed", self.name))


# -- exc_info -----------------------------------------------------------------------------
def exc_info_before_route(environ: Environ, start_response: StartResponse) -> list[bytes]:
    start_response("200 OK", TEXT)
    try:
        raise ValueError("caught before the headers were sent")
    except ValueError:
        start_response(
            "500 Internal Server Error", [("content-type", "text/x-error")], sys.exc_info()
        )
    return [b"recovered"]


def exc_info_after_route(environ: Environ, start_response: StartResponse) -> list[bytes]:
    write = start_response("200 OK", TEXT)
    write(b"partial")
    try:
        raise ValueError("after the headers")
    except ValueError:
        try:
            start_response("500 Internal Server Error", TEXT, sys.exc_info())
        except ValueError as exc:
            REPORTS.put(("re-raised", str(exc)))
            raise
    return [b"unreachable"]


# -- close() ------------------------------------------------------------------------------
def close_list_route(environ: Environ, start_response: StartResponse) -> TrackedList:
    start_response("200 OK", TEXT)
    return TrackedList([b"list body"])


def close_iter_route(environ: Environ, start_response: StartResponse) -> Tracked:
    start_response("200 OK", TEXT)
    return Tracked("iter", [b"a", b"b", b"c"])


def close_fail_route(environ: Environ, start_response: StartResponse) -> Tracked:
    start_response("200 OK", TEXT)
    return Tracked("fail-mid", [b"a", b"b", b"c"], fail_at=1)


def close_fail_first_route(environ: Environ, start_response: StartResponse) -> Tracked:
    start_response("200 OK", TEXT)
    return Tracked("fail-first", [b"a"], fail_at=0)


def close_raises_route(environ: Environ, start_response: StartResponse) -> Tracked:
    start_response("200 OK", TEXT)
    return FailingClose("close-raises", [b"a", b"b"])


# -- files --------------------------------------------------------------------------------
def file_route(environ: Environ, start_response: StartResponse) -> Any:
    options = _query(environ)
    handle = open(options["path"], "rb")  # noqa: SIM115 - the server closes it
    if "offset" in options:
        handle.seek(int(options["offset"]))
    headers = [("content-type", "application/octet-stream")]
    if "length" in options:
        headers.append(("content-length", options["length"]))
    start_response("200 OK", headers)
    return environ["wsgi.file_wrapper"](_ReportingFile(handle), 4096)


class _ReportingFile:
    """A real file (it has ``name`` and ``fileno``) that reports its ``close()``."""

    def __init__(self, handle: io.BufferedReader) -> None:
        self._handle = handle
        self.name = handle.name

    def read(self, size: int = -1) -> bytes:
        return self._handle.read(size)

    def tell(self) -> int:
        return self._handle.tell()

    def fileno(self) -> int:
        return self._handle.fileno()

    def close(self) -> None:
        self._handle.close()
        REPORTS.put(("closed", "file"))


def filelike_route(environ: Environ, start_response: StartResponse) -> Any:
    start_response("200 OK", TEXT)
    return environ["wsgi.file_wrapper"](io.BytesIO(b"in-memory file " * 1000), 1000)


# -- errors -------------------------------------------------------------------------------
def error_raise_route(environ: Environ, start_response: StartResponse) -> list[bytes]:
    raise RuntimeError("the app failed")


def error_non_iterable_route(environ: Environ, start_response: StartResponse) -> int:
    start_response("200 OK", TEXT)
    return 42


def error_twice_route(environ: Environ, start_response: StartResponse) -> list[bytes]:
    start_response("200 OK", TEXT)
    start_response("201 Created", TEXT)
    return [b"never"]


def error_str_chunk_route(environ: Environ, start_response: StartResponse) -> Iterator[Any]:
    start_response("200 OK", TEXT)
    yield "text, not bytes"


def error_str_in_list_route(environ: Environ, start_response: StartResponse) -> list[Any]:
    start_response("200 OK", TEXT)
    return [b"ok", "not bytes"]


def error_no_start_route(environ: Environ, start_response: StartResponse) -> list[bytes]:
    return [b"no start_response"]


def error_bad_status_route(environ: Environ, start_response: StartResponse) -> list[bytes]:
    start_response("OK", TEXT)
    return [b"bad status"]


def error_header_injection_route(environ: Environ, start_response: StartResponse) -> Any:
    start_response("200 OK", [("x-evil", "a\r\nset-cookie: stolen=1")])
    if _query(environ).get("stream"):
        return iter([b"streamed"])
    return [b"whole"]


def error_non_latin1_header_route(environ: Environ, start_response: StartResponse) -> list[bytes]:
    start_response("200 OK", [("x-text", "snowman \u2603")])
    return [b"never"]


# -- concurrency --------------------------------------------------------------------------
def slow_route(environ: Environ, start_response: StartResponse) -> list[bytes]:
    with _slow_lock:
        _slow["now"] += 1
        _slow["max"] = max(_slow["max"], _slow["now"])
    try:
        time.sleep(0.2)
    finally:
        with _slow_lock:
            _slow["now"] -= 1
    start_response("200 OK", TEXT)
    return [threading.current_thread().name.encode()]


def slow_stats() -> dict[str, int]:
    with _slow_lock:
        return dict(_slow)


def reset_slow_stats() -> None:
    with _slow_lock:
        _slow.update(now=0, max=0)


ROUTES: dict[str, Callable[[Environ, StartResponse], Any]] = {
    "/environ": environ_route,
    "/read": read_route,
    "/upload-hash": upload_hash_route,
    "/upload-report": upload_report_route,
    "/upload-stalled-reader": upload_stalled_reader_route,
    "/hello": hello_route,
    "/tuple": tuple_route,
    "/empty": empty_route,
    "/generator": generator_route,
    "/lazy-start": lazy_start_route,
    "/write": write_route,
    "/write-only": write_only_route,
    "/content-length": content_length_route,
    "/stream-big": stream_big_route,
    "/exc-info/before": exc_info_before_route,
    "/exc-info/after": exc_info_after_route,
    "/close/list": close_list_route,
    "/close/iter": close_iter_route,
    "/close/fail": close_fail_route,
    "/close/fail-first": close_fail_first_route,
    "/close/raises": close_raises_route,
    "/file": file_route,
    "/filelike": filelike_route,
    "/error/raise": error_raise_route,
    "/error/non-iterable": error_non_iterable_route,
    "/error/twice": error_twice_route,
    "/error/str-chunk": error_str_chunk_route,
    "/error/str-in-list": error_str_in_list_route,
    "/error/no-start": error_no_start_route,
    "/error/bad-status": error_bad_status_route,
    "/error/header-injection": error_header_injection_route,
    "/error/non-latin1-header": error_non_latin1_header_route,
    "/slow": slow_route,
}


def app(environ: Environ, start_response: StartResponse) -> Any:
    route = ROUTES.get(environ["PATH_INFO"])
    if route is None:
        start_response("404 Not Found", TEXT)
        return [b"no route for " + environ["PATH_INFO"].encode("latin-1")]
    return route(environ, start_response)
