"""Process-wide memo tables that stay bounded without bookkeeping.

Several hot paths remember what they computed for a value seen before (a header
name's kind, a field's encoding, a Huffman string's decoding, a TLS session's
facts). The values come from clients or apps, so each table has a size limit;
``remember`` enforces it by starting over when the table is full. There is no
eviction order to keep on the hot path, and the entries that matter (the ones
repeated on every request) are back after a request or two.
"""

from __future__ import annotations

from typing import TypeVar

__all__ = ["remember"]

_K = TypeVar("_K")
_V = TypeVar("_V")


def remember(cache: dict[_K, _V], key: _K, value: _V, limit: int) -> _V:
    """Store ``key`` → ``value`` (emptying ``cache`` first when it holds ``limit``
    entries); returns ``value``."""
    if len(cache) >= limit:
        cache.clear()
    cache[key] = value
    return value
