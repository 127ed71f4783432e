"""RSGI benchmark app. Routes by path; every handler does the least an app can do."""

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

Handler = Callable[[Any, Any], Awaitable[None]]

_TEXT = ("content-type", "text/plain")
_BINARY = ("content-type", "application/octet-stream")
_WS_CLOSE = 0
_WS_BYTES = 1


def _fixed(body: bytes) -> Handler:
    headers = [_TEXT, ("content-length", str(len(body)))]

    async def handler(scope: Any, protocol: Any) -> None:
        protocol.response_bytes(200, headers, body)

    return handler


async def echo(scope: Any, protocol: Any) -> None:
    body = await protocol()
    protocol.response_bytes(200, [_BINARY, ("content-length", str(len(body)))], body)


_STREAM_HEADERS = [_BINARY]


async def stream_echo(scope: Any, protocol: Any) -> None:
    """Send each request chunk back as it arrives (chunked response)."""
    transport = protocol.response_stream(200, _STREAM_HEADERS)
    async for chunk in protocol:
        if chunk:
            await transport.send_bytes(chunk)


_FILE_HEADERS = [_BINARY, ("content-length", str(FILE_50K_SIZE))]


async def file_50k(scope: Any, protocol: Any) -> None:
    protocol.response_file(200, _FILE_HEADERS, FILE_50K)


_sleep_reply = _fixed(HELLO)


async def sleep_10ms(scope: Any, protocol: Any) -> None:
    await asyncio.sleep(SLEEP_SECONDS)
    await _sleep_reply(scope, protocol)


async def not_found(scope: Any, protocol: Any) -> None:
    protocol.response_bytes(404, [_TEXT], b"not found")


ROUTES: dict[str, Handler] = {
    "/hello": _fixed(HELLO),
    "/10k": _fixed(BODY_10K),
    "/1m": _fixed(BODY_1M),
    "/echo": echo,
    "/stream-echo": stream_echo,
    "/file50k": file_50k,
    "/sleep10ms": sleep_10ms,
}


async def websocket_echo(protocol: Any) -> None:
    transport = await protocol.accept()
    while True:
        message = await transport.receive()
        if message.kind == _WS_CLOSE:
            return
        if message.kind == _WS_BYTES:
            await transport.send_bytes(message.data)
        else:
            await transport.send_str(message.data)


async def app(scope: Any, protocol: Any) -> None:
    if scope.proto == "http":
        await ROUTES.get(scope.path, not_found)(scope, protocol)
    elif scope.proto == "ws":
        await websocket_echo(protocol)
