"""HTTP/2 header blocks ↔ exchange fields.

Request: the block is validated as RFC 9113 §8.2-8.3 require of a server (a
smuggling defence): field names lower-case and free of illegal characters,
values without NUL/CR/LF or surrounding whitespace, pseudo-headers known,
unique and first, the ones the method needs present, a token ``:method``, an
origin-form ``:path`` (``*`` for OPTIONS), a non-empty ``:authority``, no
connection-specific fields, ``te`` only ``trailers``, one ``host`` agreeing with
``:authority``, ``content-length`` digits without conflicting copies. A violation
raises :class:`MalformedHeaders` (the connection resets the stream). Pseudo-headers
become the exchange's method, path, query and authority; the rest stay as received,
split ``cookie`` fields joined into one (RFC 9113 §8.2.3). No ``host`` header is
made up from ``:authority``: the exchange's ``authority`` carries it, and each adapter
presents it as its interface says (ASGI: a ``host`` header first; RSGI: only
``scope.authority``; WSGI: ``HTTP_HOST``).

Response: ``:status`` first, then the application's headers without the
connection-specific ones HTTP/2 forbids (RFC 9113 §8.2.2), then ``server`` and
``date`` unless the application set them. Names are lower-cased and values lose
surrounding whitespace; a name that is not a token, a value holding a control
character (HTAB aside) or a content-length that is not digits raises ``ValueError``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from granian_core.caches import remember
from granian_core.exchange import is_repeated_length

if TYPE_CHECKING:
    from collections.abc import Iterable

    from granian_core.exchange import Headers

__all__ = [
    "MalformedHeaders",
    "RequestHead",
    "header_pair",
    "parse_request_head",
    "request_trailers",
    "response_headers",
    "trailer_headers",
]

_STATUS = {code: str(code).encode() for code in range(100, 600)}
_CONNECTION_SPECIFIC = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade"}
)
_COLON = 58  # ord(":")
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9a-z]+")
#: Control characters other than HTAB (RFC 9110 §5.5): clients reset a stream carrying one.
_UNSAFE_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")


def _checked(name: bytes, value: bytes) -> tuple[bytes, bytes]:
    """The field as HTTP/2 sends it: the name lower-cased, the value without surrounding
    whitespace (which HTTP/2 forbids, RFC 9113 §8.2.1, and HTTP/1 ignores); refuses what
    could split or smuggle a header, or make the client fail the stream."""
    name = name.lower()
    if _TOKEN.fullmatch(name) is None:
        raise ValueError(f"Invalid response header name {name!r}")
    if _UNSAFE_VALUE.search(value) is not None:
        raise ValueError(f"Invalid value for response header {name!r}")
    return name, bytes(value).strip(b" \t")


class MalformedHeaders(ValueError):
    """A request or trailer block HTTP/2 forbids (RFC 9113 §8.1.1: a stream error)."""


class RequestHead:
    """The request facts of one HEADERS block."""

    __slots__ = (
        "authority",
        "content_length",
        "headers",
        "method",
        "protocol",
        "query_string",
        "raw_path",
    )

    def __init__(self) -> None:
        self.method = "GET"
        self.raw_path = b""
        self.query_string = b""
        self.authority: str | None = None
        self.protocol: str | None = None  # RFC 8441 extended CONNECT
        self.content_length: int | None = None
        self.headers: Headers = []


#: RFC 9113 §8.2.1: what a field name or value must not contain (the leading colon of a
#: pseudo-header is checked apart); a value must not start or end with SP or HTAB.
_ILLEGAL_NAME = re.compile(rb"[\x00-\x20:A-Z\x7f-\xff]")
_ILLEGAL_VALUE = re.compile(rb"[\x00\r\n]|\A[ \t]|[ \t]\Z")
#: RFC 9110 §9.1: a method is a token (case-sensitive).
_METHOD_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
#: What :path and :authority must not hold: controls, SP, DEL (HTTP/1's parsers refuse the same).
_ILLEGAL_TARGET = re.compile(rb"[\x00-\x20\x7f]")

#: What each field name means to validation. Names found valid are added as _REGULAR
#: (a bounded cache shared by every connection: the check depends on the name only).
_REGULAR, _HOST, _CONTENT_LENGTH, _TE, _COOKIE, _FORBIDDEN = range(6)
_METHOD, _SCHEME, _AUTHORITY, _PATH, _PROTOCOL = range(10, 15)
_PSEUDO = _METHOD
_NAME_KINDS: dict[bytes, int] = {
    b"host": _HOST,
    b"content-length": _CONTENT_LENGTH,
    b"te": _TE,
    b"cookie": _COOKIE,
    **dict.fromkeys(_CONNECTION_SPECIFIC, _FORBIDDEN),
    b":method": _METHOD,
    b":scheme": _SCHEME,
    b":authority": _AUTHORITY,
    b":path": _PATH,
    b":protocol": _PROTOCOL,
}
_NAME_CACHE_LIMIT = 2048
#: Whole fields whose characters were checked → the kind of their name. The decoder
#: returns the same tuple for an indexed field (and the same strings for cached Huffman
#: literals), so a repeated field costs one look-up. Starts over when full.
_FIELD_KINDS: dict[tuple[bytes, bytes], int] = {}
_FIELD_CACHE_LIMIT = 4096
#: Only short fields and names are cached: the caches live as long as the process, and a
#: client sending long unique ones must not make them hold its bytes (at most ~4 MiB).
_CACHED_FIELD_LENGTH = 1024
_CACHED_NAME_LENGTH = 128
_METHODS = {m.encode(): m for m in ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH")}


def _field_kind(field: tuple[bytes, bytes]) -> int:
    """Check a field not seen before; raises on illegal characters."""
    name, value = field
    if value and _ILLEGAL_VALUE.search(value) is not None:
        raise MalformedHeaders(f"Illegal value for {name!r}")
    kind = _NAME_KINDS.get(name)
    if kind is None:
        kind = _name_kind(name)
    if kind >= _PSEUDO:
        _check_pseudo_value(kind, name, value)
    if len(name) + len(value) <= _CACHED_FIELD_LENGTH:
        remember(_FIELD_KINDS, field, kind, _FIELD_CACHE_LIMIT)
    return kind


def _check_pseudo_value(kind: int, name: bytes, value: bytes) -> None:
    """RFC 9113 §8.3.1: a token method, an origin-form (or ``*``) path, a non-empty authority."""
    if kind == _METHOD:
        valid = _METHOD_TOKEN.fullmatch(value) is not None
    elif kind == _PATH:
        valid = value == b"*" or (value[:1] == b"/" and _ILLEGAL_TARGET.search(value) is None)
    elif kind == _AUTHORITY:
        valid = bool(value) and _ILLEGAL_TARGET.search(value) is None
    else:
        valid = True
    if not valid:
        raise MalformedHeaders(f"Invalid {name.decode('latin-1')} {value!r}")


def _name_kind(name: bytes) -> int:
    """Classify a name not seen before; raises on an illegal one."""
    if not name:
        raise MalformedHeaders("Empty field name")
    if name[0] == _COLON:
        raise MalformedHeaders(f"Unknown pseudo-header {name!r}")
    if _ILLEGAL_NAME.search(name) is not None:
        raise MalformedHeaders(f"Illegal field name {name!r}")
    if len(_NAME_KINDS) < _NAME_CACHE_LIMIT and len(name) <= _CACHED_NAME_LENGTH:
        _NAME_KINDS[name] = _REGULAR
    return _REGULAR


#: More significant digits than any body could have (2**63 has 19). Also keeps int() away
#: from strings past Python's 4,300-digit conversion limit, where it raises ValueError.
_LENGTH_DIGITS = 19


def _content_length(value: bytes, known: int | None) -> int:
    if not value.isdigit():
        raise MalformedHeaders(f"Invalid content-length {value!r}")
    if len(value) > _LENGTH_DIGITS:
        value = value.lstrip(b"0") or b"0"
        if len(value) > _LENGTH_DIGITS:
            raise MalformedHeaders("content-length too large")
    length = int(value)
    if known is not None and known != length:
        raise MalformedHeaders("Conflicting content-length fields")
    return length


def parse_request_head(block: Iterable[tuple[bytes, bytes]]) -> RequestHead:
    """The validated request of a HEADERS block; raises :class:`MalformedHeaders`."""
    head = RequestHead()
    headers = head.headers
    pseudo: list[bytes | None] = [None] * 5  # indexed by kind - _PSEUDO
    host: bytes | None = None
    cookies = 0
    regular = False
    kinds = _FIELD_KINDS
    for field in block:
        kind = kinds.get(field)
        if kind is None:
            kind = _field_kind(field)
        if kind == _REGULAR:
            regular = True
            headers.append(field)
            continue
        name, value = field
        if kind >= _PSEUDO:
            if regular:
                raise MalformedHeaders(f"Pseudo-header {name!r} after a regular field")
            if pseudo[kind - _PSEUDO] is not None:
                raise MalformedHeaders(f"Duplicate {name!r}")
            pseudo[kind - _PSEUDO] = value
            continue
        regular = True
        if kind == _HOST:
            if host is not None:
                raise MalformedHeaders("Duplicate host")
            host = value
        elif kind == _CONTENT_LENGTH:
            head.content_length = _content_length(value, head.content_length)
        elif kind == _TE:
            if value.lower() != b"trailers":
                raise MalformedHeaders("te other than trailers")
        elif kind == _COOKIE:
            cookies += 1
        else:
            raise MalformedHeaders(f"Connection-specific field {name!r}")
        headers.append(field)
    _check_pseudo_headers(pseudo, host)
    method, _, authority, path, protocol = pseudo
    assert method is not None
    head.method = _METHODS.get(method) or method.decode("latin-1")
    if path is not None:
        raw_path, _, query = path.partition(b"?")
        head.raw_path = raw_path
        head.query_string = query
    if authority is not None:
        head.authority = authority.decode("latin-1")
    if protocol is not None:
        head.protocol = protocol.decode("latin-1")
    if cookies > 1:
        _join_cookies(headers)
    return head


def _check_pseudo_headers(pseudo: list[bytes | None], host: bytes | None) -> None:
    """RFC 9113 §8.3.1 and §8.5, RFC 8441 §4: the pseudo-headers a request needs."""
    method, scheme, authority, path, protocol = pseudo
    if method is None:
        raise MalformedHeaders("Missing :method")
    if method == b"CONNECT" and protocol is None:
        if scheme is not None or path is not None or authority is None:
            raise MalformedHeaders("CONNECT needs :authority and no :scheme or :path")
    elif protocol is not None:
        if method != b"CONNECT" or scheme is None or path is None or authority is None:
            raise MalformedHeaders(":protocol needs CONNECT, :scheme, :path and :authority")
    elif scheme is None or path is None:
        raise MalformedHeaders("Missing :scheme or :path")
    if path == b"*" and method != b"OPTIONS":
        raise MalformedHeaders(":path * outside OPTIONS")
    if authority is None and host is None:
        raise MalformedHeaders("Neither :authority nor host")
    if (
        authority is not None
        and host is not None
        and authority != host
        and authority.lower() != host.lower()  # host names are case-insensitive
    ):
        raise MalformedHeaders(":authority and host disagree")


def _join_cookies(headers: Headers) -> None:
    """Split ``cookie`` fields back into one, placed last (RFC 9113 §8.2.3)."""
    values = [value for name, value in headers if name == b"cookie"]
    headers[:] = [field for field in headers if field[0] != b"cookie"]
    headers.append((b"cookie", b"; ".join(values)))


def request_trailers(block: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """A trailer block, validated: no pseudo-headers, legal names and values."""
    kinds = _FIELD_KINDS
    for field in block:
        kind = kinds.get(field)
        if kind is None:
            kind = _field_kind(field)
        name, value = field
        if kind >= _PSEUDO:
            raise MalformedHeaders(f"Pseudo-header {name!r} in trailers")
        if kind == _FORBIDDEN or (kind == _TE and value.lower() != b"trailers"):
            raise MalformedHeaders(f"Connection-specific field {name!r} in trailers")
    return block


#: A response head's checked part: the ``:status`` field and the application's fields
#: that HTTP/2 keeps, its content-length, and whether it set ``server`` and ``date``.
_CheckedHead = tuple[list[tuple[bytes, bytes]], "int | None", bool, bool]
#: (status, *pairs) → its checked part. Most responses of an app repeat a few heads,
#: so the per-field checks run once per distinct head (as http1/prepared.py does).
_CHECKED: dict[tuple[object, ...], _CheckedHead] = {}
_CHECKED_LIMIT = 1024
#: Heads with more fields (long cookie lists, mostly one-offs) are not kept.
_REMEMBERED_FIELDS = 32


def response_headers(
    status: int,
    headers: Headers,
    server: tuple[bytes, bytes],
    date: tuple[bytes, bytes],
    content_length: int | None,
) -> tuple[list[tuple[bytes, bytes]], int | None]:
    """The response block and the content-length the application declared (if any).

    ``content_length`` is added when given and the application declared none.
    """
    checked: _CheckedHead | None = None
    key: tuple[object, ...] | None = None
    if type(status) is int:  # 200.0 == 200 and hashes alike: never a key
        key = (status, *headers)
        try:
            checked = _CHECKED.get(key)
        except (TypeError, ValueError):  # unhashable (a bytearray, a writable memoryview)
            key = None
    if checked is None:
        checked = _check_response_head(status, headers)
        if key is not None and len(key) <= _REMEMBERED_FIELDS:
            remember(_CHECKED, key, checked, _CHECKED_LIMIT)
    fields, declared, has_server, has_date = checked
    block = fields.copy()  # the checked list is shared by every response with this head
    if declared is None and content_length is not None:
        block.append((b"content-length", b"%d" % content_length))
    if not has_server:
        block.append(server)
    if not has_date:
        block.append(date)
    return block, declared


def _check_response_head(status: int, headers: Iterable[tuple[bytes, bytes]]) -> _CheckedHead:
    fields = [(b":status", _STATUS.get(status) or str(status).encode())]
    declared: int | None = None
    has_server = has_date = False
    for raw_name, raw_value in headers:
        name, value = _checked(raw_name, raw_value)
        if name in _CONNECTION_SPECIFIC or (name == b"te" and value.lower() != b"trailers"):
            continue
        if name == b"content-length":
            if not value.isdigit():  # digits only (RFC 9110 §8.6); int() takes "-1", "1_0"
                raise ValueError(f"Invalid content-length {raw_value!r}")
            length = int(value)
            if is_repeated_length(declared, length):
                continue
            declared = length
        elif name == b"server":
            has_server = True
        elif name == b"date":
            has_date = True
        fields.append((name, value))
    return fields, declared, has_server, has_date


def trailer_headers(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Trailers: checked like response headers, without connection-specific fields."""
    checked = [_checked(name, value) for name, value in headers]
    return [pair for pair in checked if pair[0] not in _CONNECTION_SPECIFIC]


def header_pair(line: bytes) -> tuple[bytes, bytes]:
    """``b"server: granian\\r\\n"`` (the HTTP/1 form the worker keeps) → a pair."""
    name, _, value = line.rstrip(b"\r\n").partition(b":")
    return name.strip().lower(), value.strip()
