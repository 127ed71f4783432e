"""Response-head building blocks: status lines, header-name checks, fixed lines.

Every status line of the standard codes is precomputed. Response header names
are validated once per distinct name (a bounded cache maps a name to its
kind), values are checked in bulk on the joined head (see :func:`lines_ok`).
"""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Final

from granian_core.caches import remember
from granian_core.exchange import ResponseError, check_final_status

__all__ = [
    "CHUNKED",
    "CLOSE",
    "CONTINUE",
    "KEEP_ALIVE",
    "KIND_CONNECTION",
    "KIND_DATE",
    "KIND_LENGTH",
    "KIND_PLAIN",
    "KIND_SERVER",
    "KIND_TRANSFER_ENCODING",
    "NAME_KINDS",
    "STATUS_LINES",
    "learn_name",
    "lines_ok",
    "parse_length",
    "status_line",
]

#: Final statuses only: a 1xx cannot be a response (see ``check_final_status``).
STATUS_LINES: Final[dict[int, bytes]] = {
    status.value: b"HTTP/1.1 %d %s\r\n" % (status.value, status.phrase.encode("ascii"))
    for status in HTTPStatus
    if status.value >= 200
}
CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"
CHUNKED: Final = b"transfer-encoding: chunked\r\n"
CLOSE: Final = b"connection: close\r\n"
KEEP_ALIVE: Final = b"connection: keep-alive\r\n"

# What a response header name means to the framing code.
KIND_PLAIN: Final = 0
KIND_LENGTH: Final = 1
KIND_TRANSFER_ENCODING: Final = 2
KIND_CONNECTION: Final = 3
KIND_SERVER: Final = 4
KIND_DATE: Final = 5

_SPECIAL_NAMES = {
    b"content-length": KIND_LENGTH,
    b"transfer-encoding": KIND_TRANSFER_ENCODING,
    b"connection": KIND_CONNECTION,
    b"server": KIND_SERVER,
    b"date": KIND_DATE,
}
#: Validated names → kind. Filled on first sight of a name; cleared when too big.
NAME_KINDS: Final[dict[bytes, int]] = {}
_NAME_CACHE_LIMIT = 4096
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+").fullmatch
_DIGITS = re.compile(rb"[0-9]+").fullmatch


def status_line(status: int) -> bytes:
    """The status line for ``status`` (empty reason phrase for non-standard codes)."""
    line = STATUS_LINES.get(status)
    if line is not None and type(status) is int:
        return line
    check_final_status(status)
    # A known status given as an IntEnum (HTTPStatus.OK) has its line already.
    return line if line is not None else b"HTTP/1.1 %d \r\n" % status


def learn_name(name: bytes) -> int:
    """Validate a header name seen for the first time and cache its kind."""
    if type(name) is not bytes or _TOKEN(name) is None:
        raise ResponseError(f"invalid response header name {name!r}")
    kind = _SPECIAL_NAMES.get(name.lower(), KIND_PLAIN)
    return remember(NAME_KINDS, name, kind, _NAME_CACHE_LIMIT)


def parse_length(value: bytes) -> int:
    """An app-supplied ``content-length`` value."""
    if type(value) is bytes and value.isdigit():  # bytes.isdigit: ASCII digits only
        return int(value)
    if type(value) is not bytes or _DIGITS(value.strip()) is None:
        raise ResponseError(f"invalid content-length {value!r}")
    return int(value)


#: Control characters, HTAB aside: none belongs in a field value (RFC 9110 §5.5).
_CONTROLS = bytes(range(0x09)) + bytes(range(0x0A, 0x20)) + b"\x7f"


def lines_ok(block: bytes, lines: int) -> bool:
    """True when ``block`` holds exactly ``lines`` CRLF pairs and no other control character.

    The block is built from ``lines`` lines each ending in CRLF, so any CR, LF
    or NUL inside a value (header injection), or any other control character
    (which clients may refuse), shows up as a surplus.
    """
    return len(block) - len(block.translate(None, _CONTROLS)) == 2 * lines
