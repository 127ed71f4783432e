"""ASGI benchmark app. Routes by path; every handler does the least an app can do."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from benchmarks.apps.payloads import (
    BODY_1M,
    BODY_10K,
    FILE_50K,
    FILE_50K_SIZE,
    HELLO,
    SLEEP_SECONDS,
)

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Handler = Callable[[Scope, Receive, Send], Awaitable[None]]

_TEXT = (b"content-type", b"text/plain")
_BINARY = (b"content-type", b"application/octet-stream")


def _fixed_head(body_len: int, content_type: tuple[bytes, bytes] = _TEXT) -> Message:
    length = (b"content-length", str(body_len).encode())
    return {"type": "http.response.start", "status": 200, "headers": [content_type, length]}


def _fixed(body: bytes) -> Handler:
    head = _fixed_head(len(body))
    message = {"type": "http.response.body", "body": body}

    async def handler(scope: Scope, receive: Receive, send: Send) -> None:
        await send(head)
        await send(message)

    return handler


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    body = await _read_body(receive)
    await send(_fixed_head(len(body), _BINARY))
    await send({"type": "http.response.body", "body": body})


_STREAM_HEAD = {"type": "http.response.start", "status": 200, "headers": [_BINARY]}


async def stream_echo(scope: Scope, receive: Receive, send: Send) -> None:
    """Send each request chunk back as it arrives (chunked response)."""
    await send(_STREAM_HEAD)
    more_body = True
    while more_body:
        message = await receive()
        more_body = message.get("more_body", False)
        body = message.get("body", b"")
        if body:
            await send({"type": "http.response.body", "body": body, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


_FILE_HEAD = _fixed_head(FILE_50K_SIZE, _BINARY)


async def file_50k(scope: Scope, receive: Receive, send: Send) -> None:
    """Pathsend where the server offers it; otherwise read the file like a framework would."""
    await send(_FILE_HEAD)
    if "http.response.pathsend" in scope.get("extensions", ()):
        await send({"type": "http.response.pathsend", "path": FILE_50K})
        return
    with open(FILE_50K, "rb") as file:
        await send({"type": "http.response.body", "body": file.read()})


_sleep_reply = _fixed(HELLO)


async def sleep_10ms(scope: Scope, receive: Receive, send: Send) -> None:
    await asyncio.sleep(SLEEP_SECONDS)
    await _sleep_reply(scope, receive, send)


_not_found_head = {"type": "http.response.start", "status": 404, "headers": [_TEXT]}
_not_found_body = {"type": "http.response.body", "body": b"not found"}


async def not_found(scope: Scope, receive: Receive, send: Send) -> None:
    await send(_not_found_head)
    await send(_not_found_body)


ROUTES: dict[str, Handler] = {
    "/hello": _fixed(HELLO),
    "/10k": _fixed(BODY_10K),
    "/1m": _fixed(BODY_1M),
    "/echo": echo,
    "/stream-echo": stream_echo,
    "/file50k": file_50k,
    "/sleep10ms": sleep_10ms,
}


async def websocket_echo(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif kind == "websocket.receive":
            if message.get("bytes") is not None:
                await send({"type": "websocket.send", "bytes": message["bytes"]})
            else:
                await send({"type": "websocket.send", "text": message["text"]})
        else:  # websocket.disconnect
            return


async def lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        else:
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    kind = scope["type"]
    if kind == "http":
        await ROUTES.get(scope["path"], not_found)(scope, receive, send)
    elif kind == "websocket":
        await websocket_echo(receive, send)
    elif kind == "lifespan":
        await lifespan(receive, send)
