"""Raw ASGI test apps: one route per behaviour the adapter must get right.

The server runs in a thread of the test process, so apps report what they saw
through a thread-safe ``queue.Queue`` that the test reads with a timeout.
"""

from __future__ import annotations

import asyncio
import json
import queue
import threading
from typing import Any

Scope = dict[str, Any]
Message = dict[str, Any]

#: Wait bound for anything an app waits on from the test thread.
WAIT = 10.0


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"bytes": value.decode("latin-1")}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    return value


async def _respond(send: Any, status: int, body: bytes, headers: list[Any] | None = None) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers or []})
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive: Any) -> list[Message]:
    messages = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body", False):
            return messages


async def _wait_thread_event(event: threading.Event) -> None:
    for _ in range(int(WAIT / 0.01)):
        if event.is_set():
            return
        await asyncio.sleep(0.01)
    raise TimeoutError("the test never set the event")


class App:
    """An ASGI app whose routes each exercise one part of the adapter."""

    def __init__(self) -> None:
        self.events: queue.Queue[Any] = queue.Queue()
        self.lifespan_events: queue.Queue[str] = queue.Queue()
        self.proceed = threading.Event()
        self.lifespan_scopes: list[Scope] = []

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        route = getattr(self, "route_" + scope["path"].rsplit("/", 1)[-1].replace("-", "_"), None)
        if route is None:
            await _respond(send, 404, b"no route")
            return
        await route(scope, receive, send)

    async def _lifespan(self, scope: Scope, receive: Any, send: Any) -> None:
        self.lifespan_scopes.append(scope)
        while True:
            message = await receive()
            self.lifespan_events.put(message["type"])
            if message["type"] == "lifespan.startup":
                scope["state"]["greeting"] = "hello"
                scope["state"]["shared"] = []
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- scope -----------------------------------------------------------------------
    async def route_scope(self, scope: Scope, receive: Any, send: Any) -> None:
        await _read_body(receive)
        shown = {key: value for key, value in scope.items() if key != "state"}
        shown["state_keys"] = sorted(scope["state"])
        body = json.dumps(_jsonable(shown)).encode()
        await _respond(send, 200, body, [(b"content-type", b"application/json")])

    async def route_state(self, scope: Scope, receive: Any, send: Any) -> None:
        state = scope["state"]
        seen = {"greeting": state.get("greeting"), "shared": list(state.get("shared", []))}
        state["greeting"] = "changed by a request"  # must not leak into the next request
        state.get("shared", []).append(1)  # the copy is shallow: this does leak
        await _respond(send, 200, json.dumps(seen).encode())

    # -- request body ----------------------------------------------------------------
    async def route_echo(self, scope: Scope, receive: Any, send: Any) -> None:
        messages = await _read_body(receive)
        body = b"".join(message.get("body", b"") for message in messages)
        count = str(len(messages)).encode()
        await _respond(send, 200, body, [(b"x-messages", count)])

    async def route_upload_steps(self, scope: Scope, receive: Any, send: Any) -> None:
        messages = []
        while True:
            message = await receive()
            self.events.put(message)
            messages.append(message)
            if not message.get("more_body", False):
                break
        body = b"".join(message["body"] for message in messages)
        await _respond(send, 200, body, [(b"x-messages", str(len(messages)).encode())])

    # -- disconnects -----------------------------------------------------------------
    async def route_disconnect_after_response(self, scope: Scope, receive: Any, send: Any) -> None:
        await _read_body(receive)
        await _respond(send, 200, b"done")
        self.events.put((await receive())["type"])
        self.events.put((await receive())["type"])  # stays disconnected

    async def route_wait_disconnect(self, scope: Scope, receive: Any, send: Any) -> None:
        first = await receive()
        self.events.put(("body", first["type"], first["more_body"]))
        self.events.put(("next", (await receive())["type"]))
        # Sending now goes nowhere: it must not raise.
        await _respond(send, 200, b"too late")
        await send({"type": "http.response.body", "body": b"more", "more_body": True})
        self.events.put(("sent", "ok"))

    async def route_partial_upload(self, scope: Scope, receive: Any, send: Any) -> None:
        self.events.put([message["type"] for message in await _read_body(receive)])

    # -- responses -------------------------------------------------------------------
    async def route_stream(self, scope: Scope, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for index in range(5):
            chunk = f"chunk{index};".encode()
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def route_stream_wait(self, scope: Scope, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first;", "more_body": True})
        await _wait_thread_event(self.proceed)
        await send({"type": "http.response.body", "body": b"second", "more_body": False})

    async def route_stream_big(self, scope: Scope, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        block = b"x" * 65536
        for _ in range(64):
            await send({"type": "http.response.body", "body": block, "more_body": True})
        await send({"type": "http.response.body"})

    async def route_headers(self, scope: Scope, receive: Any, send: Any) -> None:
        headers = [
            [b"content-type", b"text/plain"],
            (b"x-tuple", b"1"),
            [b"set-cookie", b"a=1"],
            [b"set-cookie", b"b=2"],
        ]
        await send({"type": "http.response.start", "status": 201, "headers": headers})
        await send({"type": "http.response.body", "body": bytearray(b"made")})

    async def route_headers_iterable(self, scope: Scope, receive: Any, send: Any) -> None:
        # ASGI types headers as any iterable of pairs: a generator here (dict items below).
        pairs = ((b"x-generated", str(n).encode()) for n in range(2))
        await send({"type": "http.response.start", "status": 200, "headers": pairs})
        await send({"type": "http.response.body", "body": b"generated"})

    async def route_mutate_asgi(self, scope: Scope, receive: Any, send: Any) -> None:
        scope["asgi"]["spec_version"] = "9.9"  # the app's own scope: no other may see it
        await send({"type": "http.response.start", "status": 204, "headers": {}.items()})
        await send({"type": "http.response.body"})

    async def route_start_only(self, scope: Scope, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 204})
        await send({"type": "http.response.body"})

    async def route_pathsend(self, scope: Scope, receive: Any, send: Any) -> None:
        path = scope["query_string"].decode()
        headers = [(b"content-type", b"application/octet-stream")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.pathsend", "path": path})

    # -- failures --------------------------------------------------------------------
    async def route_raise_before_start(self, scope: Scope, receive: Any, send: Any) -> None:
        raise ValueError("boom before start")

    async def route_raise_after_start(self, scope: Scope, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise ValueError("boom after start")

    async def route_return_without_response(self, scope: Scope, receive: Any, send: Any) -> None:
        return

    async def route_misuse(self, scope: Scope, receive: Any, send: Any) -> None:
        """Send the messages named by the query string; report the RuntimeError, re-raise."""
        case = scope["query_string"].decode()
        try:
            for message in MISUSE[case]:
                await send(message)
        except RuntimeError as exc:
            self.events.put(str(exc))
            raise


_START: Message = {"type": "http.response.start", "status": 200, "headers": []}
_BODY: Message = {"type": "http.response.body", "body": b"ok"}

#: Each protocol mistake an app can make, as the messages it sends.
MISUSE: dict[str, list[Any]] = {
    "body-before-start": [_BODY],
    "pathsend-before-start": [{"type": "http.response.pathsend", "path": "/etc/hostname"}],
    "start-twice": [_START, _START],
    "unknown-type": [{"type": "http.response.bogus"}],
    "no-type": [{"status": 200}],
    "not-a-dict": ["http.response.start"],
    "status-not-int": [{"type": "http.response.start", "status": "200", "headers": []}],
    "status-interim": [_START | {"status": 100}, _BODY],
    "status-switching": [_START | {"status": 101}, _BODY],
    "status-too-big": [_START | {"status": 1000}, _BODY],
    "header-str": [{"type": "http.response.start", "status": 200, "headers": [("a", "b")]}],
    "header-triple": [
        {"type": "http.response.start", "status": 200, "headers": [(b"a", b"b", b"c")]}
    ],
    "headers-not-list": [{"type": "http.response.start", "status": 200, "headers": b"a: b"}],
    "body-str": [_START, {"type": "http.response.body", "body": "text"}],
    "pathsend-bytes": [_START, {"type": "http.response.pathsend", "path": b"/etc/hostname"}],
    "after-complete": [_START, _BODY, _BODY],
}
