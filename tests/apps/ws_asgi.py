"""ASGI WebSocket test apps: one route per behaviour, routed by path.

The server runs in a thread of the test process: apps report what they saw
(disconnect codes, exceptions) through ``REPORTS``, a thread-safe queue the
tests read with a timeout.
"""

from __future__ import annotations

import asyncio
import json
import queue
import threading
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Handler = Callable[[Scope, Receive, Send], Awaitable[None]]

REPORTS: queue.Queue[tuple[str, Any]] = queue.Queue()
#: Bytes the flood route has handed to ``send`` so far (read by the slow-reader test).
flood_progress = {"sent": 0}
FLOOD_CHUNK = 64 * 1024
FLOOD_TOTAL = 256 * 1024 * 1024
BURST = 1000
#: Set by a test to let the idle route start reading.
idle_release = threading.Event()

ROUTES: dict[str, Handler] = {}


def route(path: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        ROUTES[path] = handler
        return handler

    return register


def _query(scope: Scope) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}


async def _accept(receive: Receive, send: Send, **extra: Any) -> None:
    connect = await receive()
    assert connect["type"] == "websocket.connect"
    await send({"type": "websocket.accept", **extra})


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        return
    if scope["type"] == "http":
        # Upgrade requests served as plain HTTP (--no-ws) land here.
        body = json.dumps(
            {"type": "http", "upgrade": dict(scope["headers"]).get(b"upgrade", b"").decode()}
        )
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body.encode()})
        return
    await ROUTES[scope["path"]](scope, receive, send)


@route("/echo")
async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    subprotocol = "chat" if "chat" in scope["subprotocols"] else None
    await _accept(receive, send, subprotocol=subprotocol)
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            REPORTS.put(("disconnect", (message["code"], message.get("reason", ""))))
            return
        reply = {k: message[k] for k in ("text", "bytes") if message.get(k) is not None}
        await send({"type": "websocket.send", **reply})


@route("/scope")
async def scope_fields(scope: Scope, receive: Receive, send: Send) -> None:
    await _accept(receive, send)
    fields = {k: v for k, v in scope.items() if k not in ("state", "asgi", "headers", "raw_path")}
    fields["asgi"] = scope["asgi"]
    fields["raw_path"] = scope["raw_path"].decode("latin-1")
    fields["query_string"] = scope["query_string"].decode("latin-1")
    fields["headers"] = [[n.decode(), v.decode()] for n, v in scope["headers"]]
    fields["has_state"] = isinstance(scope.get("state"), dict)
    await send({"type": "websocket.send", "text": json.dumps(fields)})
    await send({"type": "websocket.close"})


@route("/headers")
async def accept_headers(scope: Scope, receive: Receive, send: Send) -> None:
    headers = [
        (b"x-custom", b"yes"),
        (b"set-cookie", b"a=1"),
        # The handshake's own fields: ours win, the app's are dropped.
        (b"Sec-WebSocket-Accept", b"bogus"),
        (b"sec-websocket-extensions", b"permessage-deflate"),
        (b"connection", b"close"),
        (b"upgrade", b"h2c"),
    ]
    await _accept(receive, send, headers=headers)
    await send({"type": "websocket.close"})


@route("/close")
async def server_close(scope: Scope, receive: Receive, send: Send) -> None:
    query = _query(scope)
    await _accept(receive, send)
    await send({"type": "websocket.close", "code": int(query["code"]), "reason": query["reason"]})
    message = await receive()
    REPORTS.put(("after-close", message))


@route("/close-unencodable-reason")
async def close_unencodable_reason(scope: Scope, receive: Receive, send: Send) -> None:
    await _accept(receive, send)
    try:
        await send({"type": "websocket.close", "code": 4000, "reason": "bad \udcff"})
    except Exception as exc:
        REPORTS.put(("close-error", repr(exc)))
        raise


@route("/close-bytes-reason")
async def close_bytes_reason(scope: Scope, receive: Receive, send: Send) -> None:
    await _accept(receive, send)
    try:
        await send({"type": "websocket.close", "code": 4000, "reason": b"bytes"})
    except RuntimeError as exc:
        REPORTS.put(("close-error", str(exc)))
    await send({"type": "websocket.close", "code": 4001, "reason": "second try"})


@route("/subprotocol-and-header")
async def subprotocol_and_header(scope: Scope, receive: Receive, send: Send) -> None:
    headers = [(b"Sec-WebSocket-Protocol", b"chat"), (b"x-kept", b"1")]
    await _accept(receive, send, subprotocol="chat", headers=headers)
    await send({"type": "websocket.close"})


@route("/reject")
async def reject(scope: Scope, receive: Receive, send: Send) -> None:
    await receive()
    await send({"type": "websocket.close"})


@route("/deny")
async def deny(scope: Scope, receive: Receive, send: Send) -> None:
    await receive()
    headers = [(b"content-type", b"text/plain"), (b"x-denied", b"1")]
    await send({"type": "websocket.http.response.start", "status": 401, "headers": headers})
    await send({"type": "websocket.http.response.body", "body": b"no ", "more_body": True})
    await send({"type": "websocket.http.response.body", "body": b"entry"})


@route("/deny-unfinished")
async def deny_unfinished(scope: Scope, receive: Receive, send: Send) -> None:
    await receive()
    await send({"type": "websocket.http.response.start", "status": 401, "headers": []})
    await send({"type": "websocket.http.response.body", "body": b"no ", "more_body": True})


@route("/raise-before")
async def raise_before(scope: Scope, receive: Receive, send: Send) -> None:
    await receive()
    raise RuntimeError("boom before accept")


@route("/raise-after")
async def raise_after(scope: Scope, receive: Receive, send: Send) -> None:
    await _accept(receive, send)
    raise RuntimeError("boom after accept")


@route("/return-before")
async def return_before(scope: Scope, receive: Receive, send: Send) -> None:
    await receive()


@route("/return-after")
async def return_after(scope: Scope, receive: Receive, send: Send) -> None:
    await _accept(receive, send)
    await send({"type": "websocket.send", "text": "bye"})


@route("/burst")
async def burst(scope: Scope, receive: Receive, send: Send) -> None:
    await _accept(receive, send)
    for index in range(BURST):
        await send({"type": "websocket.send", "text": str(index)})
    await send({"type": "websocket.close", "code": 1000})


@route("/flood")
async def flood(scope: Scope, receive: Receive, send: Send) -> None:
    await _accept(receive, send)
    chunk = b"x" * FLOOD_CHUNK
    try:
        while flood_progress["sent"] < FLOOD_TOTAL:
            await send({"type": "websocket.send", "bytes": chunk})
            flood_progress["sent"] += len(chunk)
    except OSError as exc:
        REPORTS.put(("flood-outcome", type(exc).__name__))


@route("/idle")
async def idle(scope: Scope, receive: Receive, send: Send) -> None:
    """Accepts, then reads nothing until the test sets ``idle_release`` (bounded wait)."""
    await _accept(receive, send)
    REPORTS.put(("idle-accepted", True))
    for _ in range(1000):
        if idle_release.is_set():
            break
        await asyncio.sleep(0.01)
    count = 0
    while (await receive())["type"] == "websocket.receive":
        count += 1
    REPORTS.put(("idle-received", count))


@route("/send-after-disconnect")
async def send_after_disconnect(scope: Scope, receive: Receive, send: Send) -> None:
    await _accept(receive, send)
    message = await receive()
    assert message["type"] == "websocket.disconnect"
    try:
        await send({"type": "websocket.send", "text": "too late"})
    except OSError as exc:
        REPORTS.put(("send-after-disconnect", type(exc).__name__))
    else:
        REPORTS.put(("send-after-disconnect", None))


# -- Starlette -----------------------------------------------------------------------------
async def starlette_echo(websocket: WebSocket) -> None:
    await websocket.accept(
        subprotocol="json" if "json" in websocket.scope["subprotocols"] else None
    )
    try:
        while True:
            data = await websocket.receive_json()
            await websocket.send_json({"echo": data, "path": websocket.url.path})
    except WebSocketDisconnect as exc:
        REPORTS.put(("starlette-disconnect", exc.code))


async def starlette_deny(websocket: WebSocket) -> None:
    await websocket.close(code=1008)


starlette_app = Starlette(
    routes=[
        WebSocketRoute("/ws/{room}", starlette_echo),
        WebSocketRoute("/deny", starlette_deny),
    ]
)
