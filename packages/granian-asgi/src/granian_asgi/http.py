"""One ASGI HTTP request/response cycle: ``receive`` and ``send`` over an exchange.

``send`` maps the ASGI messages onto the exchange's fast paths: a start followed
by a single final body becomes one ``send_response`` (so the start is held until
the first body message), a streamed body becomes ``start_response``/``write``/
``end_response``, and ``http.response.pathsend`` becomes ``send_file``.

Response trailers (the ``http.response.trailers`` extension): after a start with
``trailers: True``, the response ends with the last ``http.response.trailers``
message. They are sent when the exchange can carry them (HTTP/2: it has
``send_trailers``) and the client asked for them with ``TE: trailers``, as the
ASGI spec requires; otherwise they are dropped and the body ends as usual.

App mistakes (wrong order, unknown types, bad values) raise ``RuntimeError``
inside ``send``; the core then answers 500 or drops the connection. Messages
sent after the client went away are dropped silently, as Granian does.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

from granian_core.exchange import ClientDisconnected, Headers, HTTPExchange

from .asgi_types import Message

__all__ = ["HTTPCycle"]

# Response progress. The start is held back until the body decides the fast path.
_IDLE = 0  # nothing sent yet
_HELD = 1  # http.response.start received, nothing written
_STREAMING = 2  # head committed, more body to come
_TRAILERS = 3  # body complete, http.response.trailers expected
_DONE = 4  # response complete

_STATE_NAMES = ("not started", "started", "streaming", "awaiting trailers", "complete")

# What happens to trailers announced by ``http.response.start``.
_NO_TRAILERS = 0  # none announced: a trailers message is an error
_DROP_TRAILERS = 1  # announced, but the client or the protocol cannot take them
_SEND_TRAILERS = 2  # announced and sent: the last trailers message ends the response

_TE_TRAILERS = b"trailers"
#: Before ``http.response.start`` (and before any trailers): never mutated, only replaced,
#: so a cycle allocates no lists of its own until the app sends headers.
_NO_HEADERS: Headers = []


class HTTPCycle:
    """The ``receive``/``send`` pair handed to the app for one exchange."""

    __slots__ = (
        "_body_done",
        "_disconnected",
        "_exchange",
        "_headers",
        "_state",
        "_status",
        "_trailer_headers",
        "_trailers",
    )

    def __init__(self, exchange: HTTPExchange) -> None:
        self._exchange = exchange
        self._state = _IDLE
        self._status = 0
        self._headers = _NO_HEADERS
        self._body_done = False
        self._disconnected = False
        self._trailers = _NO_TRAILERS
        self._trailer_headers = _NO_HEADERS

    # -- receive ---------------------------------------------------------------------
    async def receive(self) -> Message:
        """``http.request`` per body chunk, then ``http.disconnect`` once the cycle ends."""
        if not self._body_done:
            exchange = self._exchange
            if exchange.body_complete:
                # A body-less request (or a body already read): one empty, final message.
                self._body_done = True
                return {"type": "http.request", "body": b"", "more_body": False}
            try:
                body = await exchange.receive()
            except ClientDisconnected:
                self._body_done = self._disconnected = True
                return {"type": "http.disconnect"}
            more_body = not exchange.body_complete
            self._body_done = not more_body
            return {"type": "http.request", "body": body, "more_body": more_body}
        if not self._disconnected:
            await self._exchange.wait_disconnect()
            self._disconnected = True
        return {"type": "http.disconnect"}

    # -- send ------------------------------------------------------------------------
    async def send(self, message: Message) -> None:
        if self._exchange.disconnected:
            return
        try:
            kind = message["type"]
        except (KeyError, TypeError):
            raise RuntimeError(f"Invalid ASGI message (no 'type'): {message!r}") from None
        if kind == "http.response.body":
            if self._on_body(message):
                await self._drain()
        elif kind == "http.response.start":
            self._on_start(message)
        elif kind == "http.response.pathsend":
            await self._on_pathsend(message)
        elif kind == "http.response.trailers":
            self._on_trailers(message)
        else:
            raise RuntimeError(f"Unsupported ASGI message: {kind!r}")

    def _on_start(self, message: Message) -> None:
        if self._state != _IDLE:
            raise self._flow_error("http.response.start")
        status: Any = message.get("status")
        if type(status) is not int or not 200 <= status <= 999:
            _check_status(status)
        self._status = status
        self._headers = response_headers(message.get("headers", ()))
        if message.get("trailers", False):
            self._trailers = (
                _SEND_TRAILERS if _can_send_trailers(self._exchange) else _DROP_TRAILERS
            )
        self._state = _HELD

    def _on_body(self, message: Message) -> bool:
        """Write one body message; True when the app must wait for the transport to drain."""
        body = message.get("body", b"")
        if type(body) is not bytes:
            body = _body_bytes(body)
        more_body = message.get("more_body", False)
        exchange = self._exchange
        state = self._state
        trailers = self._trailers
        if state == _HELD:
            if not more_body and trailers != _SEND_TRAILERS:
                self._state = _TRAILERS if trailers else _DONE
                exchange.send_response(self._status, self._headers, body)
                return False
            self._state = _STREAMING
            exchange.start_response(self._status, self._headers)
        elif state != _STREAMING:
            raise self._flow_error("http.response.body")
        if not more_body:
            if trailers == _SEND_TRAILERS:
                self._state = _TRAILERS  # the last trailers message ends the response
                if body:
                    exchange.write(body)
                return exchange.write_paused
            self._state = _TRAILERS if trailers else _DONE
            exchange.end_response(body)
            return False
        if body:
            exchange.write(body)
        return exchange.write_paused

    async def _drain(self) -> None:
        # A disconnect here is not the app's error: later sends are dropped.
        with contextlib.suppress(ClientDisconnected):
            await self._exchange.drain()

    async def _on_pathsend(self, message: Message) -> None:
        if self._state != _HELD:
            raise self._flow_error("http.response.pathsend")
        path = message.get("path")
        if isinstance(path, os.PathLike):
            path = os.fspath(path)
        if not isinstance(path, str):
            raise RuntimeError(f"ASGI pathsend 'path' must be a str, got {path!r}")
        # FileNotFoundError propagates with nothing sent: the core answers 500.
        await self._exchange.send_file(self._status, self._headers, path)
        if self._trailers:
            self._trailers = _DROP_TRAILERS  # the file ended the response
            self._state = _TRAILERS
        else:
            self._state = _DONE

    def _on_trailers(self, message: Message) -> None:
        trailers = self._trailers
        if trailers == _NO_TRAILERS:
            raise RuntimeError(
                "ASGI flow error: 'http.response.trailers' sent without 'trailers': True "
                "in 'http.response.start'"
            )
        state = self._state
        exchange = self._exchange
        if state == _HELD:  # trailers without a body
            if trailers == _SEND_TRAILERS:
                exchange.start_response(self._status, self._headers)
            else:
                exchange.send_response(self._status, self._headers, b"")
            self._state = state = _TRAILERS
        if state != _TRAILERS:
            raise self._flow_error("http.response.trailers")
        headers = response_headers(message.get("headers", ()))
        if trailers == _SEND_TRAILERS:
            self._trailer_headers = self._trailer_headers + headers
        if message.get("more_trailers", False):
            return
        self._state = _DONE
        if trailers != _SEND_TRAILERS:
            return
        if self._trailer_headers:
            exchange.send_trailers(self._trailer_headers)  # type: ignore[attr-defined]
        else:
            exchange.end_response()

    def _flow_error(self, kind: str) -> RuntimeError:
        return RuntimeError(
            f"ASGI flow error: {kind!r} sent when the response is {_STATE_NAMES[self._state]}"
        )


def response_headers(raw: Any) -> Headers:
    """The app's response headers as a fresh list of ``(bytes, bytes)`` tuples, checked.

    The app's own tuples are kept (they cannot change); other pairs become tuples. Any
    iterable of pairs is taken (ASGI: ``Iterable[[bytes, bytes]]``), as Uvicorn and
    Granian do: a generator, ``dict.items()``.
    """
    if isinstance(raw, (bytes, str, dict)):  # iterable, but not of pairs
        raise RuntimeError(f"ASGI response headers must be an iterable of pairs, got {raw!r}")
    headers: Headers = []
    for item in raw:
        try:
            name, value = item
        except (TypeError, ValueError):
            raise RuntimeError(f"ASGI response header must be a pair: {item!r}") from None
        if type(name) is not bytes or type(value) is not bytes:
            raise RuntimeError(f"ASGI response header name and value must be bytes: {item!r}")
        headers.append(item if type(item) is tuple else (name, value))
    return headers


def _can_send_trailers(exchange: HTTPExchange) -> bool:
    """The protocol carries trailers and the client accepts them (``TE: trailers``)."""
    if not hasattr(exchange, "send_trailers"):
        return False
    for name, value in exchange.headers:
        if name == b"te" and any(
            token.strip().lower() == _TE_TRAILERS for token in value.split(b",")
        ):
            return True
    return False


def _body_bytes(body: Any) -> bytes:
    if type(body) is bytes:
        return body
    if isinstance(body, (bytearray, memoryview)):
        return bytes(body)
    raise RuntimeError(f"ASGI response body must be bytes, got {type(body).__name__}")


def _check_status(status: Any) -> None:
    if not isinstance(status, int) or isinstance(status, bool):
        raise RuntimeError(f"ASGI response status must be an int, got {status!r}")
    if not 200 <= status <= 999:
        # A 1xx is interim: as the response, clients would wait on for the real one.
        raise RuntimeError(f"ASGI response status must be from 200 to 999, got {status!r}")
