"""An app's status and headers, validated and rendered once: a :class:`PreparedHead`.

Most responses of an app repeat a few status-and-headers combinations (same
content type, same length for the same page). Rendering one means a pass over
the headers in Python: a kind per name, a check of every value, the joined
block. So the result is remembered, keyed by the status and the header pairs
themselves; an equal list later costs one tuple and one dict lookup. Equal
pairs validate the same way, so a hit needs no check. Pairs that cannot be
hashed (a ``bytearray``, a list instead of a tuple) are rendered every time.
"""

from __future__ import annotations

from collections.abc import Iterable

from granian_core.caches import remember
from granian_core.exchange import Headers, ResponseError, is_repeated_length

from .heads import (
    KIND_CONNECTION,
    KIND_LENGTH,
    KIND_SERVER,
    KIND_TRANSFER_ENCODING,
    NAME_KINDS,
    STATUS_LINES,
    learn_name,
    lines_ok,
    parse_length,
    status_line,
)
from .parsers import connection_tokens

__all__ = ["PreparedHead", "prepare_head"]

#: (status, *pairs) → its PreparedHead. Apps with per-response values (cookies, ids)
#: fill it with one-offs; it then starts over (see granian_core.caches).
_PREPARED: dict[tuple[object, ...], PreparedHead] = {}
_PREPARED_LIMIT = 1024
#: Larger heads (long cookies, mostly one-offs) are not kept: the table stays small.
_REMEMBERED_SIZE = 2048


class PreparedHead:
    """The status line and the app's header lines, with what framing needs to know."""

    __slots__ = (
        "app_close",
        "app_connection",
        "app_length",
        "block",
        "has_date",
        "has_server",
        "status",
    )

    def __init__(
        self,
        status: int,
        block: bytes,
        *,
        app_length: int | None,
        app_connection: bool,
        app_close: bool,
        has_server: bool,
        has_date: bool,
    ) -> None:
        self.status = status
        #: The status line and the app's lines, each ending in CRLF (no blank line).
        self.block = block
        #: The app's ``content-length`` (dropped for 1xx and 204), else None.
        self.app_length = app_length
        self.app_connection = app_connection
        #: The app's ``connection`` header asks to close.
        self.app_close = app_close
        self.has_server = has_server
        self.has_date = has_date

    def block_without_connection(self) -> bytes:
        """``block`` without the app's Connection lines, for a response that closes anyway.

        Rare (the app said keep-alive, the server closes), so filtered here, not cached:
        names hold no colon and values no CR or LF, so each line splits cleanly.
        """
        status, *lines = self.block.split(b"\r\n")
        kept = [line for line in lines if line[:11].lower() != b"connection:"]
        return b"\r\n".join([status, *kept])


def prepare_head(status: int, headers: Headers) -> PreparedHead:
    """``status`` and ``headers`` validated and rendered; raises :class:`ResponseError`."""
    if type(status) is not int:  # 200.0 == 200 and hashes alike: never a cache hit
        return _render(status, headers)
    key = (status, *headers)
    try:
        prepared = _PREPARED.get(key)
    except (TypeError, ValueError):  # unhashable (a bytearray, a writable memoryview)
        return _render(status, headers)
    if prepared is None:
        prepared = _render(status, headers)
        if len(prepared.block) <= _REMEMBERED_SIZE:
            remember(_PREPARED, key, prepared, _PREPARED_LIMIT)
    return prepared


def _render(status: int, headers: Headers) -> PreparedHead:
    line = STATUS_LINES.get(status)
    parts = [line if line is not None and type(status) is int else status_line(status)]
    kinds = NAME_KINDS
    bodiless = status < 200 or status == 204
    app_length = None
    has_server = has_date = app_connection = app_close = False
    for name, value in headers:
        kind = kinds.get(name)
        if kind is None:
            kind = learn_name(name)
        if kind:
            if kind == KIND_LENGTH:
                if bodiless:
                    continue
                length = parse_length(value)
                if is_repeated_length(app_length, length):
                    continue
                app_length = length
            elif kind == KIND_TRANSFER_ENCODING:
                continue  # framing is ours
            elif kind == KIND_CONNECTION:
                app_connection = True
                app_close = app_close or _asks_close(value)
            elif kind == KIND_SERVER:
                has_server = True
            else:
                has_date = True
        # Four parts per line, one join for the whole block: cheaper than
        # concatenating each line.
        parts += (name, b": ", value, b"\r\n")
    try:
        block = b"".join(parts)
    except TypeError:
        raise _bad_value(headers) from None
    if not lines_ok(block, 1 + (len(parts) - 1) // 4):
        raise ResponseError("a control character (CR, LF, NUL...) in a response header value")
    return PreparedHead(
        status,
        block,
        app_length=app_length,
        app_connection=app_connection,
        app_close=app_close,
        has_server=has_server,
        has_date=has_date,
    )


def _bad_value(headers: Iterable[tuple[object, object]]) -> ResponseError:
    """The error for the first header whose value is not bytes (the app broke the type)."""
    for name, value in headers:
        if not isinstance(value, (bytes, bytearray, memoryview)):
            return ResponseError(f"invalid value for header {name!r}: {value!r}")
    return ResponseError("invalid response header value")


def _asks_close(connection: bytes) -> bool:
    return type(connection) is bytes and b"close" in connection_tokens(connection)
