"""One ASGI WebSocket connection: ``receive`` and ``send`` over a core session.

Handshake: the first ``receive()`` is ``websocket.connect``; the app answers
with ``websocket.accept`` (subprotocol, headers), ``websocket.close`` (HTTP 403)
or the denial extension ``websocket.http.response.start``/``body`` (any HTTP
response; the body is collected and sent whole with the last message).

Then ``websocket.receive`` per message (``text`` or ``bytes``, the other key
absent) and ``websocket.disconnect`` with the close ``code`` and ``reason``;
``websocket.send`` sends one message, waiting while the client is slow, and
``websocket.close`` starts the close handshake.

A ``websocket.send`` after the client went away raises ``ClientDisconnected``
(an ``OSError``, as ASGI 2.4 asks; Starlette turns it into
``WebSocketDisconnect``). Messages out of order or of unknown type raise
``RuntimeError``; the core then answers 500 or closes with 1011.
"""

from __future__ import annotations

from typing import Any

from granian_core.websocket import (
    ABNORMAL_CLOSURE,
    NORMAL_CLOSURE,
    ClientDisconnected,
    WebSocketSession,
    is_valid_close_code,
)

from .asgi_types import Message
from .http import response_headers

__all__ = ["WebSocketCycle"]

# Handshake and session progress, as the app drives it.
_CONNECTING = 0  # websocket.connect not delivered yet
_HANDSHAKE = 1  # connect delivered; waiting for accept, close or an HTTP response
_RESPONDING = 2  # websocket.http.response.start received; body pending
_OPEN = 3  # accepted
_CLOSED = 4  # the app closed, or the HTTP response was sent

_STATE_NAMES = ("connecting", "handshaking", "responding", "open", "closed")
_CONNECT: dict[str, Any] = {"type": "websocket.connect"}

_SUBPROTOCOL_HEADER = b"sec-websocket-protocol"


class WebSocketCycle:
    """The ``receive``/``send`` pair handed to the app for one WebSocket."""

    __slots__ = ("_body", "_headers", "_session", "_state", "_status")

    def __init__(self, session: WebSocketSession) -> None:
        self._session = session
        self._state = _CONNECTING
        self._status = 0
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []

    def check_finished(self) -> None:
        """The app returned: a denial response it left unfinished is an app error (the
        core answers 500), never a 403 that would hide its status and cut its body."""
        if self._state == _RESPONDING:
            self._state = _CLOSED
            raise RuntimeError(
                "ASGI app returned without finishing its websocket.http.response "
                "(the last websocket.http.response.body had more_body=True)"
            )

    # -- receive ---------------------------------------------------------------------
    async def receive(self) -> Message:
        if self._state == _CONNECTING:
            self._state = _HANDSHAKE
            return dict(_CONNECT)
        session = self._session
        try:
            message = await session.receive()
        except ClientDisconnected:
            return self._disconnect()
        kind = type(message)
        if kind is str:
            return {"type": "websocket.receive", "text": message}
        if kind is bytes:
            return {"type": "websocket.receive", "bytes": message}
        return self._disconnect()

    def _disconnect(self) -> Message:
        session = self._session
        return {
            "type": "websocket.disconnect",
            "code": session.close_code or ABNORMAL_CLOSURE,
            "reason": session.close_reason,
        }

    # -- send ------------------------------------------------------------------------
    async def send(self, message: Message) -> None:
        try:
            kind = message["type"]
        except (KeyError, TypeError):
            raise RuntimeError(f"Invalid ASGI message (no 'type'): {message!r}") from None
        if kind == "websocket.send":
            await self._on_send(message)
        elif kind == "websocket.accept":
            self._on_accept(message)
        elif kind == "websocket.close":
            self._on_close(message)
        elif kind == "websocket.http.response.start":
            self._on_response_start(message)
        elif kind == "websocket.http.response.body":
            self._on_response_body(message)
        else:
            raise RuntimeError(f"Unsupported ASGI message: {kind!r}")

    async def _on_send(self, message: Message) -> None:
        if self._state != _OPEN:
            raise self._flow_error("websocket.send")
        data = message.get("bytes")
        text = message.get("text")
        session = self._session
        if data is not None and text is None:
            if not isinstance(data, (bytes, bytearray, memoryview)):
                raise RuntimeError(f"websocket.send 'bytes' must be bytes, got {data!r}")
            await session.send_bytes(bytes(data))
        elif text is not None and data is None:
            if type(text) is not str:
                raise RuntimeError(f"websocket.send 'text' must be a str, got {text!r}")
            await session.send_text(text)
        else:
            raise RuntimeError("websocket.send needs exactly one of 'bytes' and 'text'")

    def _on_accept(self, message: Message) -> None:
        if self._state not in (_CONNECTING, _HANDSHAKE):
            raise self._flow_error("websocket.accept")
        subprotocol = message.get("subprotocol")
        if subprotocol is not None and type(subprotocol) is not str:
            raise RuntimeError(f"websocket.accept 'subprotocol' must be a str: {subprotocol!r}")
        headers = response_headers(message.get("headers", ()))
        if subprotocol is not None:
            # The server answers the subprotocol (ASGI); a copy among the headers would
            # give a second Sec-WebSocket-Protocol, which clients fail the handshake on.
            headers = [pair for pair in headers if pair[0].lower() != _SUBPROTOCOL_HEADER]
        self._session.accept(subprotocol, headers)
        self._state = _OPEN

    def _on_close(self, message: Message) -> None:
        state = self._state
        session = self._session
        if state in (_CONNECTING, _HANDSHAKE):
            self._state = _CLOSED
            session.reject(403, [], b"")
        elif state == _OPEN:
            code = message.get("code")
            code = NORMAL_CLOSURE if code is None else code
            if not is_valid_close_code(code):
                raise RuntimeError(f"websocket.close with an invalid code: {code!r}")
            reason = message.get("reason") or ""
            if type(reason) is not str:
                raise RuntimeError(f"websocket.close 'reason' must be a str: {reason!r}")
            session.close(code, reason)  # raises first if the reason cannot be sent
            self._state = _CLOSED
        elif state == _RESPONDING:
            raise self._flow_error("websocket.close")
        # A close once closed does nothing (apps often close again on the way out).

    def _on_response_start(self, message: Message) -> None:
        if self._state not in (_CONNECTING, _HANDSHAKE):
            raise self._flow_error("websocket.http.response.start")
        status = message.get("status")
        if not isinstance(status, int) or isinstance(status, bool):
            raise RuntimeError(f"ASGI response status must be an int, got {status!r}")
        self._status = status
        self._headers = response_headers(message.get("headers", ()))
        self._state = _RESPONDING

    def _on_response_body(self, message: Message) -> None:
        if self._state != _RESPONDING:
            raise self._flow_error("websocket.http.response.body")
        body = message.get("body", b"")
        if not isinstance(body, (bytes, bytearray, memoryview)):
            raise RuntimeError(f"ASGI response body must be bytes, got {type(body).__name__}")
        if body:
            self._body.append(bytes(body))
        if not message.get("more_body", False):
            self._state = _CLOSED
            self._session.reject(self._status, self._headers, b"".join(self._body))
            self._body = []

    def _flow_error(self, kind: str) -> RuntimeError:
        return RuntimeError(
            f"ASGI flow error: {kind!r} sent when the WebSocket is {_STATE_NAMES[self._state]}"
        )
