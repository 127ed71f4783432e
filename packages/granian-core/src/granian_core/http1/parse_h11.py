"""The reference HTTP/1.1 request parser: h11 used purely as a parser.

We never send through h11 (responses are serialized by the connection), so
h11's own state machine cannot cycle to the next request. Instead, once a
request's ``EndOfMessage`` is out, the bytes h11 still holds
(``trailing_data``) go into a fresh ``h11.Connection`` that parses the next
pipelined request.

Three rules of h11 are changed so that both parsers agree:

- control characters in a header value are a 400 (RFC 9110 5.5), as in llhttp and
  hyper; h11 lets all but NUL through;
- a request target must be in one of RFC 9112's forms (3.2): "/...", "*", an
  absolute URI, or any authority for CONNECT;
- empty lines before a request line are skipped (RFC 9112 2.2: a server SHOULD
  ignore at least one), as in llhttp; h11 answers them with a 400. Old clients send
  a CRLF after a POST body, and it then precedes the next pipelined request.

In WebSocket mode the parser stops after a ``websocket`` upgrade request: the
bytes h11 holds past it, and everything fed later, are kept raw
(``take_trailing``).
"""

from __future__ import annotations

import re

import h11

from .events import END_OF_BODY, BodyData, ParseError, RequestHead
from .parsers import (
    ParserBase,
    announces_body,
    expects_continue,
    framing_forbids_reuse,
    upgrade_protocol,
    wants_keep_alive,
)

__all__ = ["H11Parser"]

_SUPPORTED_VERSIONS = {b"1.1": "1.1", b"1.0": "1.0"}
#: Bytes a head line costs beyond its name and value (": " and CRLF).
_LINE_OVERHEAD = 4
_FRAMING = (b"content-length", b"transfer-encoding")
#: Control characters, which RFC 9110 (5.5) keeps out of field values but h11 lets
#: through (all but NUL, CR, LF and whitespace): rejected like llhttp and hyper do.
_FIELD_VALUE_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]").search
#: A request target other than origin-form ("/..."): asterisk-form, or absolute-form.
#: h11 takes any target; llhttp and hyper these forms only (and authority-form for CONNECT).
_OTHER_TARGET_FORM = re.compile(rb"\*\Z|[A-Za-z][A-Za-z0-9+.-]*://").match
#: What empty lines before a request line are made of (llhttp also skips lone CRs).
_EMPTY_LINE_BYTES = b"\r\n"


class H11Parser(ParserBase):
    """Parses a stream of requests with h11; see :class:`~.parsers.RequestParser`."""

    __slots__ = ("_between_requests", "_conn", "_upgrading")

    def __init__(
        self, max_head_size: int, keep_alive: bool = True, websocket: bool = False
    ) -> None:
        super().__init__(max_head_size, keep_alive, websocket)
        #: The request being parsed is a WebSocket upgrade: stop after it.
        self._upgrading = False
        #: No byte of the next request is in yet: empty lines are still skipped.
        self._between_requests = True
        self._conn = self._new_connection()

    def _new_connection(self) -> h11.Connection:
        return h11.Connection(h11.SERVER, max_incomplete_event_size=self._max_head)

    def feed(self, data: bytes) -> None:
        trailing = self._trailing
        if trailing is not None:
            trailing += data
            self.buffered += len(data)
            return
        if self._between_requests:
            data = data.lstrip(_EMPTY_LINE_BYTES)
            self._between_requests = not data
        if self._done or not data:
            return
        self._conn.receive_data(data)
        self._pump()

    def _pump(self) -> None:
        conn = self._conn
        events = self.events
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                # Its traceback's frames refer to the exception (h11 re-raises it from a
                # method of its own): a cycle holding this parser until a collection.
                exc.__traceback__ = None
                self._fail(exc.error_status_hint, str(exc))
                return
            kind = type(event)
            if kind is h11.Data:
                data = bytes(event.data)  # type: ignore[union-attr]
                events.append(BodyData(data))
                self.buffered += len(data)
            elif kind is h11.Request:
                head = self._head(event)  # type: ignore[arg-type]
                if head is None:
                    return
                if self._websocket and head.upgrade == b"websocket":
                    if announces_body(head.headers):
                        self._fail(400, "WebSocket upgrade request with a body")
                        return
                    self._upgrading = True
                events.append(head)
                self.buffered += head.size
                self._last = not (head.keep_alive and self._keep_alive)
            elif kind is h11.EndOfMessage:
                events.append(END_OF_BODY)
                if self._upgrading:
                    self._stop_for_upgrade()
                    return
                if self._last:
                    self._done = True
                    return
                conn = self._next_cycle()
            else:  # NEED_DATA (PAUSED cannot follow a fresh connection)
                return

    def _stop_for_upgrade(self) -> None:
        trailing, _closed = self._conn.trailing_data
        self._trailing = bytearray(trailing)
        self.buffered += len(trailing)
        self._done = True

    def _next_cycle(self) -> h11.Connection:
        trailing, _closed = self._conn.trailing_data
        self._conn = conn = self._new_connection()
        rest = bytes(trailing).lstrip(_EMPTY_LINE_BYTES)
        self._between_requests = not rest
        if rest:
            conn.receive_data(rest)
        return conn

    def _head(self, request: h11.Request) -> RequestHead | None:
        version = _SUPPORTED_VERSIONS.get(request.http_version)
        if version is None:
            self._fail(505, "HTTP version not supported")
            return None
        target = request.target
        if target[:1] != b"/" and not _valid_other_target(request.method, target):
            self._fail(400, "Invalid request target")
            return None
        size = len(target) + len(request.method) + 12
        connection = expect = upgrade = None
        headers: list[tuple[bytes, bytes]] = []
        framing: list[tuple[bytes, bytes]] = []
        for name, value in request.headers:
            if _FIELD_VALUE_CONTROL(value) is not None:
                self._fail(400, "Invalid header value char")
                return None
            headers.append((name, value))
            size += len(name) + len(value) + _LINE_OVERHEAD
            if name == b"connection":
                connection = value if connection is None else connection + b", " + value
            elif name == b"expect":
                expect = value
            elif name == b"upgrade":
                upgrade = value
            elif name in _FRAMING:
                framing.append((name, value))
        if size > self._max_head:
            # h11 bounds only a head still incomplete; one that arrived whole is checked here.
            self._fail(431, "Request header fields too large")
            return None
        keep_alive = wants_keep_alive(version, connection)
        if keep_alive and framing and framing_forbids_reuse(version, framing):
            keep_alive = False
        return RequestHead(
            request.method.decode("ascii"),
            target,
            version,
            headers,
            keep_alive,
            expects_continue(version, expect),
            upgrade_protocol(connection, upgrade),
            size,
        )

    def _fail(self, status: int, reason: str) -> None:
        self.events.append(ParseError(status, reason))
        self._done = True


def _valid_other_target(method: bytes, target: bytes) -> bool:
    return method == b"CONNECT" or _OTHER_TARGET_FORM(target) is not None
