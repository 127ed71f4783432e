"""PEP 3333 status lines and response headers, converted to the exchange's byte form."""

from __future__ import annotations

from itertools import chain
from typing import Any

from granian_core.caches import remember
from granian_core.exchange import Headers

__all__ = ["content_length", "encode_headers", "parse_status"]

#: Caches bounded so odd apps cannot grow them forever (read and written by many threads:
#: single dict operations are atomic, a lost insert only costs a recomputation).
_CACHE_LIMIT = 256
_statuses: dict[str, int] = {}
_names: dict[str, bytes] = {}
#: Header lists (as tuples) → their encoding; emptied when full (granian_core.caches).
_encoded: dict[tuple[Any, ...], tuple[tuple[bytes, bytes], ...]] = {}
_ENCODED_LIMIT = 512
#: Larger lists (long cookies, mostly one-offs) are not kept: the table stays small.
_REMEMBERED_SIZE = 2048


def parse_status(status: Any) -> int:
    """The code of a ``"200 OK"`` status line."""
    code = _statuses.get(status) if isinstance(status, str) else None
    if code is not None:
        return code
    if not isinstance(status, str):
        raise TypeError(f"WSGI status must be a str, not {type(status).__name__}")
    digits, separator = status[:3], status[3:4]
    if not (len(digits) == 3 and digits.isdigit() and separator in ("", " ")):
        raise ValueError(f"Invalid WSGI status line: {status!r}")
    code = int(digits)
    if not 100 <= code <= 999:
        raise ValueError(f"Invalid WSGI status line: {status!r}")
    if len(_statuses) < _CACHE_LIMIT:
        _statuses[status] = code
    return code


def encode_headers(headers: Any) -> Headers:
    """``[(str, str)]`` → ``[(lower-case name bytes, value bytes)]`` (latin-1, per PEP 3333).

    An app mostly repeats a few header lists: each is encoded once, remembered by
    value. Equal pairs encode alike; unhashable ones (lists) are encoded every time.
    """
    try:
        pairs = tuple(headers)
    except TypeError:
        return _encode(headers)  # not iterable: raises
    try:
        encoded = _encoded.get(pairs)
    except (TypeError, ValueError):  # unhashable (ValueError: a writable memoryview)
        return _encode(pairs)
    if encoded is None:
        fresh = _encode(pairs)
        if sum(map(len, chain.from_iterable(fresh))) <= _REMEMBERED_SIZE:
            remember(_encoded, pairs, tuple(fresh), _ENCODED_LIMIT)
        return fresh
    return list(encoded)


def _encode(headers: Any) -> Headers:
    try:
        return [(_name(name), value.encode("latin-1")) for name, value in headers]
    except (AttributeError, TypeError, ValueError, UnicodeEncodeError) as exc:
        raise TypeError(
            "WSGI response headers must be a list of (str, str) tuples of latin-1 text"
        ) from exc


def _name(name: str) -> bytes:
    encoded = _names.get(name)
    if encoded is None:
        encoded = name.lower().encode("latin-1")
        if len(_names) < _CACHE_LIMIT:
            _names[name] = encoded
    return encoded


def content_length(headers: Headers) -> int | None:
    """The ``content-length`` of these headers (the app's, or a request's) as an int, if valid."""
    for name, value in headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
