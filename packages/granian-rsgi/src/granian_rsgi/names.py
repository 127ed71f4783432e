"""Header-name and header-value encoding shared by the scope and the responses.

Apps send mostly the same few headers (often module-level literals), so the
encoded form of each ``(name, value)`` pair is cached: after warm-up a
response header costs one dict lookup. The caches are bounded and simply
start over when full, so unique values (request ids, cookies) cannot grow them
and cannot lock the common pairs out for good.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["encode_headers", "encode_name", "encode_pair", "encode_value", "name_cache"]

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9a-z]+").fullmatch
# Field values may hold HTAB, SP, visible ASCII and obs-text; no other controls.
_VALID_VALUE = re.compile(rb"[\t\x20-\x7e\x80-\xff]*").fullmatch

_CACHE_SIZE = 1024
#: str name → lower-case bytes, or None for a name that is not a token.
name_cache: dict[str, bytes | None] = {}
_pair_cache: dict[tuple[str, str], tuple[bytes, bytes] | None] = {}


def encode_name(name: str) -> bytes | None:
    """``name`` lower-cased as latin-1 bytes, or ``None`` if it is not an HTTP token."""
    try:
        return name_cache[name]
    except KeyError:
        pass
    try:
        raw: bytes | None = str.lower(name).encode("latin-1")
    except UnicodeEncodeError:
        raw = None
    if raw is not None and _TOKEN(raw) is None:
        raw = None
    if len(name_cache) >= _CACHE_SIZE:
        name_cache.clear()
    name_cache[name] = raw
    return raw


def encode_value(value: str) -> bytes | None:
    """``value`` as UTF-8 bytes, or ``None`` if it cannot be sent as a field value.

    UTF-8, as Granian sends it: non-ASCII bytes are obs-text, passed on opaquely.
    """
    try:
        raw = str.encode(value, "utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return None
    # isprintable() is a fast pass for the common case; only odd values take the regex.
    if value.isprintable() or _VALID_VALUE(raw) is not None:
        return raw
    return None


def encode_pair(pair: tuple[str, str]) -> tuple[bytes, bytes] | None:
    """One header as bytes, or ``None`` when it is not valid HTTP (cache miss path)."""
    name, value = pair
    raw_name = encode_name(name)
    raw_value = encode_value(value)
    encoded = None if raw_name is None or raw_value is None else (raw_name, raw_value)
    try:
        if len(_pair_cache) >= _CACHE_SIZE:
            _pair_cache.clear()
        _pair_cache[pair] = encoded
    except TypeError:  # a list instead of a tuple: fine, just not cacheable
        pass
    return encoded


def encode_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    """Response headers as byte pairs; pairs that are not valid HTTP are dropped silently."""
    encoded: list[tuple[bytes, bytes]] = []
    cache = _pair_cache
    for pair in headers:
        try:
            raw = cache[pair]
        except (KeyError, TypeError):
            raw = encode_pair(pair)
        if raw is not None:
            encoded.append(raw)
    return encoded
