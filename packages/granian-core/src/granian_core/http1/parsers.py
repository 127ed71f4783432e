"""The parser interface both HTTP/1 parsers implement, and the factory that picks one.

A parser turns bytes into :mod:`events <granian_core.http1.events>` and appends
them to its ``events`` deque; ``buffered`` counts the bytes those queued events
hold (body data and approximate head sizes). The connection pops events and
subtracts what it pops, so ``buffered`` is what the server holds for this
connection and is what read flow control looks at.

WebSocket mode (``websocket=True``): a parser stops right after the head of an
``Upgrade: websocket`` request; everything fed afterwards is kept raw (and
counted in ``buffered``) for the WebSocket layer, see
:meth:`RequestParser.take_trailing`. Such a request may not announce a body (400).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Protocol

from .events import Event

__all__ = [
    "PARSERS",
    "ParserBase",
    "ParserFactory",
    "RequestParser",
    "announces_body",
    "connection_tokens",
    "expects_continue",
    "framing_forbids_reuse",
    "make_parser",
    "parser_factory",
    "upgrade_protocol",
    "wants_keep_alive",
]

PARSERS = ("h11", "httptools")


class RequestParser(Protocol):
    events: deque[Event]
    buffered: int

    def feed(self, data: bytes) -> None:
        """Parse ``data``; append the events it completes. Never raises for bad input."""

    def take_trailing(self) -> bytes:
        """The raw bytes received after a WebSocket upgrade head (WebSocket mode only)."""

    def close(self) -> None:
        """No more input (the connection is gone or handed over); queued events stay."""


class ParserBase:
    """State both parsers share: the event queue, its byte count, and WebSocket mode."""

    __slots__ = (
        "_done",
        "_keep_alive",
        "_last",
        "_max_head",
        "_trailing",
        "_websocket",
        "buffered",
        "events",
    )

    def __init__(self, max_head_size: int, keep_alive: bool, websocket: bool) -> None:
        self.events: deque[Event] = deque()
        self.buffered = 0
        self._max_head = max_head_size
        self._keep_alive = keep_alive
        #: The request being parsed is the connection's last (no keep-alive).
        self._last = False
        #: Input is ignored: after an error, or after the last request.
        self._done = False
        self._websocket = websocket
        #: Raw bytes after a WebSocket upgrade head (``None`` until then).
        self._trailing: bytearray | None = None

    def close(self) -> None:
        self._done = True

    def take_trailing(self) -> bytes:
        trailing = self._trailing
        if not trailing:
            return b""
        self._trailing = bytearray()
        self.buffered -= len(trailing)
        return bytes(trailing)


#: Makes a parser: ``(max_head_size, keep_alive, websocket)``, as :func:`make_parser`.
ParserFactory = Callable[[int, bool, bool], RequestParser]


def parser_factory(name: str) -> ParserFactory:
    """The parser class for a name (``h11`` or ``httptools``), imported only when chosen."""
    if name == "httptools":
        from .parse_httptools import HttptoolsParser

        return HttptoolsParser
    if name == "h11":
        from .parse_h11 import H11Parser

        return H11Parser
    raise ValueError(f"unknown HTTP/1 parser {name!r}")


def make_parser(
    name: str, max_head_size: int, keep_alive: bool = True, websocket: bool = False
) -> RequestParser:
    """A parser by name (``h11`` or ``httptools``).

    ``max_head_size`` bounds a request head (431 beyond). With ``keep_alive``
    false the parser stops after the first request: nothing later is served.
    With ``websocket`` it stops after a WebSocket upgrade head (see above).
    """
    return parser_factory(name)(max_head_size, keep_alive, websocket)


def connection_tokens(value: bytes) -> list[bytes]:
    """The lower-cased tokens of a ``Connection`` header value."""
    return [token.strip() for token in value.lower().split(b",")]


def wants_keep_alive(http_version: str, connection: bytes | None) -> bool:
    """Whether a request asks to keep the connection open after its response."""
    if connection is None:
        return http_version == "1.1"
    tokens = connection_tokens(connection)
    if b"close" in tokens:
        return False
    return http_version == "1.1" or b"keep-alive" in tokens


def framing_forbids_reuse(http_version: str, framing: list[tuple[bytes, bytes]]) -> bool:
    """Whether a request's framing headers (``content-length``, ``transfer-encoding``)
    oblige the server to close after answering it.

    Transfer-Encoding on an HTTP/1.0 request (RFC 9112 6.1), or beside Content-Length
    (6.3), may be framed differently by an intermediary: reusing the connection would
    let it smuggle a request.
    """
    names = {name for name, _ in framing}
    return b"transfer-encoding" in names and (http_version == "1.0" or b"content-length" in names)


def expects_continue(http_version: str, expect: bytes | None) -> bool:
    """``Expect: 100-continue`` on an HTTP/1.1 request (HTTP/1.0 clients cannot expect it)."""
    return expect is not None and http_version == "1.1" and expect.lower() == b"100-continue"


def upgrade_protocol(connection: bytes | None, upgrade: bytes | None) -> bytes | None:
    """The requested protocol of an upgrade request (``Connection: upgrade`` + ``Upgrade``)."""
    if connection is None or upgrade is None:
        return None
    if b"upgrade" not in connection_tokens(connection):
        return None
    protocols = upgrade.strip().lower()
    # Upgrade is a list, in the client's order of preference (RFC 9110 §7.8): WebSocket
    # is the one protocol we can switch to, wherever it stands.
    if b"," in protocols and b"websocket" in connection_tokens(protocols):
        return b"websocket"
    return protocols


def announces_body(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether these (lower-case) headers frame a non-empty request body."""
    for name, value in headers:
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() != b"0"):
            return True
    return False
