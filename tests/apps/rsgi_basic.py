"""RSGI test apps: one route per behaviour the adapter must get right.

The server runs in a thread of the test process, so apps report what they saw
(outcomes that cannot travel in the response) through ``REPORTS``, a
thread-safe queue the test reads with a timeout.
"""

from __future__ import annotations

import asyncio
import json
import queue
import threading
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from granian_rsgi import (
    HTTPProtocol,
    ProtocolClosed,
    ProtocolError,
    Scope,
)

REPORTS: queue.Queue[tuple[str, Any]] = queue.Queue()

#: Chunk and total size of the backpressure stream (the total is never reached).
STREAM_CHUNK = 64 * 1024
STREAM_TOTAL = 256 * 1024 * 1024
#: Bytes of the big stream the app has handed to send_bytes so far (read by the test).
stream_progress = {"sent": 0}

Route = Callable[[Scope, HTTPProtocol], Awaitable[None]]
ROUTES: dict[str, Route] = {}


def route(path: str) -> Callable[[Route], Route]:
    def register(handler: Route) -> Route:
        ROUTES[path] = handler
        return handler

    return register


def _query(scope: Scope) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(scope.query_string).items()}


def _json(proto: HTTPProtocol, payload: Any, status: int = 200) -> None:
    proto.response_str(status, [("content-type", "application/json")], json.dumps(payload))


# -- scope ------------------------------------------------------------------------------
@route("/scope")
async def scope_fields(scope: Scope, proto: HTTPProtocol) -> None:
    fields = (
        "proto",
        "rsgi_version",
        "http_version",
        "server",
        "client",
        "scheme",
        "method",
        "path",
        "query_string",
        "authority",
    )
    payload: dict[str, Any] = {name: getattr(scope, name) for name in fields}
    payload["headers"] = scope.headers.items()
    payload["same_headers_object"] = scope.headers is scope.headers
    _json(proto, payload)


@route("/scope/immutable")
async def scope_immutable(scope: Scope, proto: HTTPProtocol) -> None:
    refused = []
    for name, value in (("path", "/other"), ("method", "PUT"), ("proto", "ws"), ("extra", 1)):
        try:
            setattr(scope, name, value)
        except AttributeError:
            refused.append(name)
    _json(proto, {"refused": refused, "path": scope.path, "proto": scope.proto})


@route("/headers")
async def headers_api(scope: Scope, proto: HTTPProtocol) -> None:
    headers = scope.headers
    try:
        headers["x-missing"]
        missing: Any = "no KeyError"
    except KeyError as exc:
        missing = exc.args[0]
    _json(
        proto,
        {
            "keys": headers.keys(),
            "values": headers.values(),
            "items": headers.items(),
            "iter": list(headers),
            "len": len(headers),
            "getitem_mixed_case": headers["X-Multi"],
            "get": headers.get("x-multi"),
            "get_missing": headers.get("x-missing"),
            "get_default": headers.get("x-missing", "fallback"),
            "get_all": headers.get_all("X-MULTI"),
            "get_all_missing": headers.get_all("x-missing"),
            "contains": "X-Single" in headers,
            "contains_missing": "x-missing" in headers,
            "missing_key_error": missing,
            "latin1": headers.get("x-latin1"),
            "dict_keeps_last": dict(headers.items())["x-multi"],
        },
    )


# -- request body -----------------------------------------------------------------------
@route("/echo")
async def echo(scope: Scope, proto: HTTPProtocol) -> None:
    body = await proto()
    proto.response_bytes(200, [("content-type", "application/octet-stream")], body)


@route("/echo/iter")
async def echo_iter(scope: Scope, proto: HTTPProtocol) -> None:
    chunks = [chunk async for chunk in proto]
    proto.response_bytes(200, [("x-chunks", str(len(chunks)))], b"".join(chunks))


@route("/body/twice")
async def body_twice(scope: Scope, proto: HTTPProtocol) -> None:
    body = await proto()
    outcomes = []
    for second_read in (proto, proto.__aiter__):
        try:
            pending = second_read()
        except ProtocolError as exc:
            outcomes.append(f"{type(exc).__name__}: {exc}")
        else:  # pragma: no cover - reported as a failure by the test
            outcomes.append(f"no error ({pending!r})")
    _json(proto, {"body": body.decode(), "outcomes": outcomes})


@route("/body/iter-then-call")
async def body_iter_then_call(scope: Scope, proto: HTTPProtocol) -> None:
    chunks = [chunk async for chunk in proto]
    try:
        coroutine = proto()
    except ProtocolError as exc:
        outcome = str(exc)
    else:  # pragma: no cover - reported as a failure by the test
        coroutine.close()
        outcome = "no error"
    _json(proto, {"body": b"".join(chunks).decode(), "outcome": outcome})


@route("/body/disconnect")
async def body_disconnect(scope: Scope, proto: HTTPProtocol) -> None:
    REPORTS.put(("body-reading", None))
    try:
        await proto()
    except ProtocolClosed as exc:
        REPORTS.put(("body-outcome", f"{type(exc).__name__}: {exc}"))
        raise
    REPORTS.put(("body-outcome", "read"))
    proto.response_empty(200)


#: Set by a test once it has seen the head of /stream/early.
EARLY_GATE = threading.Event()


@route("/stream/early")
async def stream_early(scope: Scope, proto: HTTPProtocol) -> None:
    transport = proto.response_stream(200, [("x-early", "1")])
    while not EARLY_GATE.is_set():  # the head must reach the client before any chunk
        await asyncio.sleep(0.01)
    await transport.send_str("late")


@route("/disconnect/wait")
async def wait_disconnect_among_others(scope: Scope, proto: HTTPProtocol) -> None:
    # Granian's awaitable is a future, so asyncio.wait takes it beside a task.
    other = asyncio.ensure_future(asyncio.sleep(10))
    done, _ = await asyncio.wait(
        [proto.client_disconnect(), other], return_when=asyncio.FIRST_COMPLETED
    )
    other.cancel()
    REPORTS.put(("wait-outcome", other not in done))


@route("/disconnect")
async def wait_disconnect(scope: Scope, proto: HTTPProtocol) -> None:
    REPORTS.put(("waiting", None))
    await asyncio.wait_for(proto.client_disconnect(), 10)
    REPORTS.put(("disconnected", None))


# -- responses --------------------------------------------------------------------------
@route("/empty")
async def empty(scope: Scope, proto: HTTPProtocol) -> None:
    proto.response_empty(204, [("x-kind", "empty")])


@route("/defaults")
async def defaults(scope: Scope, proto: HTTPProtocol) -> None:
    kind = _query(scope)["kind"]
    if kind == "empty":
        proto.response_empty()
    elif kind == "str":
        proto.response_str()
    elif kind == "bytes":
        proto.response_bytes()
    else:
        transport = proto.response_stream()
        await transport.send_str("streamed")


@route("/str")
async def response_str(scope: Scope, proto: HTTPProtocol) -> None:
    proto.response_str(201, [("content-type", "text/plain; charset=utf-8")], "héllo wörld")


@route("/bytes")
async def response_bytes(scope: Scope, proto: HTTPProtocol) -> None:
    proto.response_bytes(200, [("content-type", "application/octet-stream")], b"\x00\x01raw")


@route("/bytes/bytearray")
async def response_bytearray(scope: Scope, proto: HTTPProtocol) -> None:
    proto.response_bytes(200, [], bytearray(b"from a bytearray"))


@route("/headers/out")
async def headers_out(scope: Scope, proto: HTTPProtocol) -> None:
    proto.response_empty(
        200,
        [
            ("X-Upper", "kept, name lower-cased"),
            ("set-cookie", "a=1"),
            ("set-cookie", "b=2"),
            ("bad name", "dropped"),
            ("x-injected", "a\r\nx-evil: 1"),
            ("x-nul", "a\x00b"),
            ("x-accented", "caf\xe9"),
            ("x-euro", "\u20ac"),
            ("x-surrogate", "\ud800"),
            ("", "empty name"),
            ("x-tab", "a\tb"),
        ],
    )


@route("/headers/server")
async def headers_server(scope: Scope, proto: HTTPProtocol) -> None:
    proto.response_str(200, [("server", "custom")], "own server header")


@route("/status/invalid")
async def status_invalid(scope: Scope, proto: HTTPProtocol) -> None:
    errors = []
    for status in (99, 103, 1000, -1):
        try:
            proto.response_empty(status)
        except ValueError as exc:
            errors.append(str(exc))
    try:
        proto.response_stream(1000)
    except ValueError as exc:
        errors.append(str(exc))
    try:
        proto.response_stream(100)
    except ValueError as exc:
        errors.append(str(exc))
    _json(proto, {"errors": errors}, status=200)


@route("/twice")
async def twice(scope: Scope, proto: HTTPProtocol) -> None:
    proto.response_str(200, [("x-which", "first")], "first")
    later: list[Callable[[], object]] = [
        lambda: proto.response_str(201, [("x-which", "second")], "second"),
        lambda: proto.response_bytes(202, [], b"third"),
        lambda: proto.response_empty(500),
        lambda: proto.response_file(200, [], __file__),
        lambda: proto.response_file_range(200, [], __file__, 0, 10),
        lambda: proto.response_stream(200),
    ]
    outcomes = []
    for call in later:
        try:
            call()
            outcomes.append("no error")
        except ProtocolError as exc:
            outcomes.append(f"{type(exc).__name__}: {exc}")
    REPORTS.put(("after-response", outcomes))


@route("/stream/twice")
async def stream_twice(scope: Scope, proto: HTTPProtocol) -> None:
    transport = proto.response_stream(200, [("content-type", "text/plain")])
    outcomes = []
    for call in (lambda: proto.response_str(500, [], "x"), lambda: proto.response_stream(500)):
        try:
            call()
            outcomes.append("no error")
        except ProtocolError as exc:
            outcomes.append(str(exc))
    await transport.send_str(" | ".join(outcomes))


@route("/no-response")
async def no_response(scope: Scope, proto: HTTPProtocol) -> None:
    return None


@route("/raise")
async def raise_error(scope: Scope, proto: HTTPProtocol) -> None:
    raise RuntimeError("boom from the RSGI app")


# -- files ------------------------------------------------------------------------------
@route("/file")
async def file(scope: Scope, proto: HTTPProtocol) -> None:
    proto.response_file(200, [("content-type", "text/plain")], _query(scope)["path"])


@route("/file/range")
async def file_range(scope: Scope, proto: HTTPProtocol) -> None:
    query = _query(scope)
    start, end = int(query["start"]), int(query["end"])
    try:
        proto.response_file_range(206, [("x-range", f"{start}-{end}")], query["path"], start, end)
    except ValueError as exc:
        proto.response_str(416, [], f"{type(exc).__name__}: {exc}")
    except OverflowError as exc:
        proto.response_str(416, [], type(exc).__name__)


@route("/file/then-raise")
async def file_then_raise(scope: Scope, proto: HTTPProtocol) -> None:
    proto.response_file(200, [], _query(scope)["path"])
    raise RuntimeError("failure after response_file")


# -- streams ----------------------------------------------------------------------------
@route("/stream")
async def stream(scope: Scope, proto: HTTPProtocol) -> None:
    transport = proto.response_stream(200, [("content-type", "text/plain")])
    await transport.send_bytes(b"one,")
    await transport.send_str("two,")
    await transport.send_bytes(b"")
    await transport.send_bytes(memoryview(b"three"))


@route("/stream/unawaited")
async def stream_unawaited(scope: Scope, proto: HTTPProtocol) -> None:
    # Granian sends at call time: an app that forgets the await still gets its body out.
    transport = proto.response_stream(200, [("content-type", "text/plain")])
    transport.send_bytes(b"sent,")
    transport.send_str("without await")


@route("/stream/raise")
async def stream_raise(scope: Scope, proto: HTTPProtocol) -> None:
    transport = proto.response_stream(200, [("content-type", "text/plain")])
    await transport.send_bytes(b"partial")
    raise RuntimeError("failure in the middle of a stream")


@route("/stream/big")
async def stream_big(scope: Scope, proto: HTTPProtocol) -> None:
    transport = proto.response_stream(200, [("content-type", "application/octet-stream")])
    chunk = b"x" * STREAM_CHUNK
    stream_progress["sent"] = 0
    try:
        for _ in range(STREAM_TOTAL // STREAM_CHUNK):
            await transport.send_bytes(chunk)
            stream_progress["sent"] += STREAM_CHUNK
    except ProtocolClosed as exc:
        REPORTS.put(("stream-outcome", f"{type(exc).__name__}: {exc}"))
        return
    REPORTS.put(("stream-outcome", "finished"))


@route("/stream/after-return")
async def stream_after_return(scope: Scope, proto: HTTPProtocol) -> None:
    transport = proto.response_stream(200, [])
    await transport.send_str("done")
    asyncio.get_running_loop().create_task(_send_late(transport))


async def _send_late(transport: Any) -> None:
    await asyncio.sleep(0)
    try:
        await transport.send_str("late")
        outcome = "no error"
    except ProtocolClosed as exc:
        outcome = f"{type(exc).__name__}: {exc}"
    REPORTS.put(("late-send", outcome))


async def app(scope: Scope, proto: HTTPProtocol) -> None:
    handler = ROUTES.get(scope.path)
    if handler is None:
        proto.response_str(404, [], f"no route {scope.path}")
        return
    await handler(scope, proto)


class MultiProtocolApp:
    """An app with ``__rsgi__`` next to an ASGI ``__call__``, plus the RSGI lifecycle hooks."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.events.append(f"init:{type(loop).__name__}")

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.events.append(f"del:{type(loop).__name__}")

    async def __rsgi__(self, scope: Scope, proto: HTTPProtocol) -> None:
        self.events.append("request")
        proto.response_str(200, [], "served by __rsgi__")

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("the ASGI entry point must not be used")


def returns_awaitable(scope: Scope, proto: HTTPProtocol) -> Awaitable[None]:
    """A plain function returning a coroutine: Granian awaits whatever the app returns."""
    return app(scope, proto)
