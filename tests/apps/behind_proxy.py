"""Apps served behind a real nginx (tests/test_behind_nginx.py), in server processes.

``asgi_app`` routes by the last path segment; ``wsgi_app`` answers the few routes the
WSGI tests use. ``/forwarded`` runs through ``granian.utils.proxies`` (peer 127.0.0.1
trusted); every other route sees the connection's real peer.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs

from granian.utils.proxies import wrap_asgi_with_proxy_headers, wrap_wsgi_with_proxy_headers

Scope = dict[str, Any]


async def _respond(send: Any, body: bytes) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


async def _peer(scope: Scope, receive: Any, send: Any) -> None:
    client = scope["client"]
    await _respond(send, json.dumps({"client": client, "scheme": scope["scheme"]}).encode())


async def _echo(scope: Scope, receive: Any, send: Any) -> None:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    await _respond(send, b"".join(chunks))


async def _gate(scope: Scope, receive: Any, send: Any) -> None:
    """Send a first chunk, then the rest once the file named in the query exists."""
    gate = parse_qs(scope["query_string"].decode())["file"][0]
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"first;", "more_body": True})
    while not os.path.exists(gate):
        await asyncio.sleep(0.01)
    await send({"type": "http.response.body", "body": b"second"})


async def _big(scope: Scope, receive: Any, send: Any) -> None:
    await _respond(send, bytes(range(256)) * (32 * 1024))  # 8 MiB


async def _boom(scope: Scope, receive: Any, send: Any) -> None:
    raise RuntimeError("the app failed")


async def _websocket_echo(scope: Scope, receive: Any, send: Any) -> None:
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        await send({"type": "websocket.send", **{k: v for k, v in message.items() if k != "type"}})


_ROUTES = {"peer": _peer, "echo": _echo, "gate": _gate, "big": _big, "boom": _boom}
_forwarded = wrap_asgi_with_proxy_headers(_peer, trusted_hosts="127.0.0.1")


async def asgi_app(scope: Scope, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        return  # no lifespan support: the server goes on without it
    if scope["type"] == "websocket":
        await _websocket_echo(scope, receive, send)
        return
    name = scope["path"].rsplit("/", 1)[-1]
    if name == "forwarded":
        await _forwarded(scope, receive, send)
    else:
        await _ROUTES[name](scope, receive, send)


def _wsgi_peer(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [])
    body = {"client": environ["REMOTE_ADDR"], "scheme": environ["wsgi.url_scheme"]}
    return [json.dumps(body).encode()]


_wsgi_forwarded = wrap_wsgi_with_proxy_headers(_wsgi_peer, trusted_hosts="127.0.0.1")


def wsgi_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    name = environ["PATH_INFO"].rsplit("/", 1)[-1]
    if name == "forwarded":
        return _wsgi_forwarded(environ, start_response)
    if name == "peer":
        start_response("200 OK", [])
        client = [environ["REMOTE_ADDR"], int(environ["REMOTE_PORT"])]
        return [json.dumps({"client": client, "scheme": environ["wsgi.url_scheme"]}).encode()]
    # echo: read to the end, with or without a content-length (a chunked upload)
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("content-length", str(len(body)))])
    return [body]
