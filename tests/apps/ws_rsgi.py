"""RSGI WebSocket test apps, routed by path; outcomes reported through ``REPORTS``."""

from __future__ import annotations

import asyncio
import json
import queue
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from granian_rsgi import (
    HTTPProtocol,
    ProtocolClosed,
    ProtocolError,
    Scope,
    WebsocketMessageType,
    WebsocketProtocol,
)

REPORTS: queue.Queue[tuple[str, Any]] = queue.Queue()

Handler = Callable[[Any, WebsocketProtocol], Awaitable[None]]
ROUTES: dict[str, Handler] = {}


def route(path: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        ROUTES[path] = handler
        return handler

    return register


def _query(scope: Any) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(scope.query_string).items()}


async def app(scope: Any, protocol: Any) -> None:
    if scope.proto == "http":
        http: HTTPProtocol = protocol
        http.response_str(200, [("content-type", "text/plain")], "http")
        return
    await ROUTES[scope.path](scope, protocol)


@route("/echo")
async def echo(scope: Scope, proto: WebsocketProtocol) -> None:
    transport = await proto.accept()
    while True:
        try:
            message = await transport.receive()
        except ProtocolClosed:
            REPORTS.put(("echo-end", "ProtocolClosed"))
            return
        if message.kind == WebsocketMessageType.close:
            REPORTS.put(("echo-end", ("close", message.data)))
            return
        if message.kind == WebsocketMessageType.bytes:
            assert isinstance(message.data, bytes)
            await transport.send_bytes(message.data)
        else:
            assert isinstance(message.data, str)
            await transport.send_str(message.data)


@route("/scope")
async def scope_fields(scope: Any, proto: WebsocketProtocol) -> None:
    transport = await proto.accept()
    names = ("proto", "rsgi_version", "http_version", "scheme", "method", "path", "query_string")
    payload = {name: getattr(scope, name) for name in names}
    payload["authority"] = scope.authority
    payload["upgrade"] = scope.headers.get("upgrade")
    payload["client"] = scope.client
    payload["server"] = scope.server
    await transport.send_str(json.dumps(payload))
    proto.close()


@route("/close")
async def close_after_accept(scope: Any, proto: WebsocketProtocol) -> None:
    query = _query(scope)
    transport = await proto.accept()
    proto.close(int(query["code"]) if "code" in query else None)
    try:
        await transport.send_str("after close")
    except ProtocolError as exc:
        REPORTS.put(("send-after-close", type(exc).__name__))


@route("/reject")
async def reject(scope: Any, proto: WebsocketProtocol) -> None:
    query = _query(scope)
    proto.close(int(query["status"]) if "status" in query else None)
    try:
        await proto.accept()
    except ProtocolError as exc:
        REPORTS.put(("accept-after-close", type(exc).__name__))


@route("/return-before")
async def return_before(scope: Any, proto: WebsocketProtocol) -> None:
    return


@route("/return-after")
async def return_after(scope: Any, proto: WebsocketProtocol) -> None:
    transport = await proto.accept()
    await transport.send_bytes(b"bye")


@route("/raise-before")
async def raise_before(scope: Any, proto: WebsocketProtocol) -> None:
    raise RuntimeError("boom before accept")


@route("/raise-after")
async def raise_after(scope: Any, proto: WebsocketProtocol) -> None:
    await proto.accept()
    raise RuntimeError("boom after accept")


@route("/concurrent")
async def concurrent_receive(scope: Any, proto: WebsocketProtocol) -> None:
    transport = await proto.accept()
    first = asyncio.ensure_future(transport.receive())
    await asyncio.sleep(0)
    try:
        await transport.receive()
    except ProtocolError as exc:
        REPORTS.put(("second-receive", type(exc).__name__))
    message = await first
    REPORTS.put(("first-receive", message.data))


@route("/accept-twice")
async def accept_twice(scope: Any, proto: WebsocketProtocol) -> None:
    await proto.accept()
    try:
        await proto.accept()
    except ProtocolError as exc:
        REPORTS.put(("accept-twice", type(exc).__name__))
    proto.close(4000)
