"""HTTP/2 header blocks ↔ exchange fields.

Request: pseudo-headers become the exchange's method, path, query and
authority; the rest stay as received (h2 already lower-cased and validated them).
A ``host`` header is added from ``:authority`` when the client sent none, as
HTTP/1-minded frameworks build URLs from ``host``.

Response: ``:status`` first, then the application's headers without the
connection-specific ones HTTP/2 forbids (RFC 9113 §8.2.2), then ``server`` and
``date`` unless the application set them. Names are lower-cased; a name that is
not a token, or a value holding CR, LF or NUL, raises ``ValueError`` (h2's own
outbound validation is off: this check replaces it at a fraction of the cost).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

    from granian_core.exchange import Headers

__all__ = ["RequestHead", "parse_request_head", "response_headers", "trailer_headers"]

_STATUS = {code: str(code).encode() for code in range(100, 600)}
_CONNECTION_SPECIFIC = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade"}
)
_COLON = 58  # ord(":")
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9a-z]+")
_UNSAFE_VALUE = re.compile(rb"[\x00\r\n]")


def _checked(name: bytes, value: bytes) -> bytes:
    """The lower-cased ``name``, after refusing what could split or smuggle a header."""
    name = name.lower()
    if _TOKEN.fullmatch(name) is None:
        raise ValueError(f"Invalid response header name {name!r}")
    if _UNSAFE_VALUE.search(value) is not None:
        raise ValueError(f"Invalid value for response header {name!r}")
    return name


class RequestHead:
    """The request facts of one HEADERS block."""

    __slots__ = ("authority", "headers", "method", "protocol", "query_string", "raw_path")

    def __init__(self) -> None:
        self.method = "GET"
        self.raw_path = b""
        self.query_string = b""
        self.authority: str | None = None
        self.protocol: str | None = None  # RFC 8441 extended CONNECT
        self.headers: Headers = []


def parse_request_head(block: Iterable[tuple[bytes, bytes]]) -> RequestHead:
    head = RequestHead()
    headers = head.headers
    has_host = False
    authority: bytes | None = None
    for name, value in block:
        if name[0] != _COLON:
            if name == b"host":
                has_host = True
            headers.append((name, value))
        elif name == b":method":
            head.method = value.decode("latin-1")
        elif name == b":path":
            path, _, query = value.partition(b"?")
            head.raw_path = path
            head.query_string = query
        elif name == b":authority":
            authority = value
            head.authority = value.decode("latin-1")
        elif name == b":protocol":
            head.protocol = value.decode("latin-1")
    if not has_host and authority is not None:
        headers.append((b"host", authority))
    return head


def response_headers(
    status: int,
    headers: Iterable[tuple[bytes, bytes]],
    server: tuple[bytes, bytes],
    date: tuple[bytes, bytes],
    content_length: int | None,
) -> tuple[list[tuple[bytes, bytes]], int | None]:
    """The response block and the content-length the application declared (if any).

    ``content_length`` is added when given and the application declared none.
    """
    block = [(b":status", _STATUS.get(status) or str(status).encode())]
    declared: int | None = None
    has_server = has_date = False
    for raw_name, value in headers:
        name = _checked(raw_name, value)
        if name in _CONNECTION_SPECIFIC or (name == b"te" and value.lower() != b"trailers"):
            continue
        if name == b"content-length":
            declared = int(value)
        elif name == b"server":
            has_server = True
        elif name == b"date":
            has_date = True
        block.append((name, value))
    if declared is None and content_length is not None:
        block.append((b"content-length", b"%d" % content_length))
    if not has_server:
        block.append(server)
    if not has_date:
        block.append(date)
    return block, declared


def trailer_headers(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Trailers: checked like response headers, without connection-specific fields."""
    checked = [(_checked(name, value), value) for name, value in headers]
    return [pair for pair in checked if pair[0] not in _CONNECTION_SPECIFIC]


def header_pair(line: bytes) -> tuple[bytes, bytes]:
    """``b"server: granian\\r\\n"`` (the HTTP/1 form the worker keeps) → a pair."""
    name, _, value = line.rstrip(b"\r\n").partition(b":")
    return name.strip().lower(), value.strip()
