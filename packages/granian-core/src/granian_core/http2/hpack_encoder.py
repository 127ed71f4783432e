"""A stateless HPACK encoder for response headers, with each field's encoding cached.

hpack's ``Encoder`` indexes fields into the dynamic table and Huffman-codes
strings on every call: the smallest blocks, at a Python cost that dominates
sending a small response. This encoder never touches the dynamic table. Each
field is either an index into the static table (an exact match, e.g.
``:status: 200``) or a literal "without indexing" (RFC 7541 §6.2.2), named by
its static index when there is one, its strings Huffman-coded when that is
shorter. A field's bytes then never depend on what was sent before, so they are
computed once and cached: a response head is a join of cached pieces. The price
is the dynamic table's saving: a few dozen bytes per response head.

Fields given as hpack's ``NeverIndexedHeaderTuple`` (sensitive values) use the
"never indexed" literal (§6.2.3) and are not cached. When the peer changes
SETTINGS_HEADER_TABLE_SIZE, the next block starts with a dynamic table size
update (§6.3) to the smallest size seen, as decoders such as nghttp2 require;
the table stays empty whatever its size.
"""

from __future__ import annotations

from collections.abc import Iterable

from hpack import NeverIndexedHeaderTuple
from hpack.huffman import HuffmanEncoder
from hpack.huffman_constants import REQUEST_CODES, REQUEST_CODES_LENGTH
from hpack.table import HeaderTable

from granian_core.caches import remember

__all__ = ["LiteralEncoder", "encode_integer"]

#: Static table: exact (name, value) → index, and name → its first index (1-based).
_STATIC_FIELDS: dict[tuple[bytes, bytes], int] = {}
_STATIC_NAMES: dict[bytes, int] = {}
for _index, _field in enumerate(HeaderTable.STATIC_TABLE, start=1):
    _STATIC_FIELDS.setdefault(_field, _index)
    _STATIC_NAMES.setdefault(_field[0], _index)

#: The RFC 7541 Appendix B code, as hpack ships it; the H bit marks a coded string.
_HUFFMAN = HuffmanEncoder(REQUEST_CODES, REQUEST_CODES_LENGTH)
_HUFFMAN_FLAG = 0x80

#: Representation prefixes (RFC 7541 §6) and their integer prefix widths in bits.
_INDEXED = 0x80  # 7-bit index
_LITERAL_NO_INDEX = 0x00  # 4-bit name index
_LITERAL_NEVER_INDEXED = 0x10  # 4-bit name index
_TABLE_SIZE_UPDATE = 0x20  # 5-bit size

#: Encoded fields, shared by every connection of the process (the encoding depends on
#: nothing else); the cache starts over when full (dates and lengths vary per response).
#: Only short fields are kept, so an app echoing large values cannot pin much memory.
_FIELD_CACHE: dict[tuple[bytes, bytes], bytes] = {}
_CACHE_LIMIT = 4096
_CACHED_FIELD_LIMIT = 1024  # bytes of name + value


def encode_integer(value: int, prefix_bits: int, flags: int) -> bytes:
    """``value`` as an HPACK integer with an N-bit prefix (RFC 7541 §5.1), ORed with ``flags``."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes((flags | value,))
    out = bytearray((flags | limit,))
    value -= limit
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _string(data: bytes) -> bytes:
    """A string literal (RFC 7541 §5.2): Huffman-coded when that is shorter."""
    coded = _HUFFMAN.encode(data)
    if len(coded) < len(data):
        return encode_integer(len(coded), 7, _HUFFMAN_FLAG) + coded
    return encode_integer(len(data), 7, 0x00) + data


def _literal(name: bytes, value: bytes, flags: int) -> bytes:
    name_index = _STATIC_NAMES.get(name)
    if name_index is not None:
        return encode_integer(name_index, 4, flags) + _string(value)
    return bytes((flags,)) + _string(name) + _string(value)


def encode_field(name: bytes, value: bytes) -> bytes:
    """One field as the static index, or a literal without indexing."""
    index = _STATIC_FIELDS.get((name, value))
    if index is not None:
        return encode_integer(index, 7, _INDEXED)
    return _literal(name, value, _LITERAL_NO_INDEX)


class LiteralEncoder:
    """The response-header encoder of a ``ServerConnection``; see the module docstring."""

    __slots__ = ("_pending_size", "_table_size")

    def __init__(self) -> None:
        self._table_size = 4096
        #: The smallest table size the peer allowed since the last block, to announce.
        self._pending_size: int | None = None

    @property
    def header_table_size(self) -> int:
        return self._table_size

    @header_table_size.setter
    def header_table_size(self, value: int) -> None:
        self._table_size = value
        pending = self._pending_size
        self._pending_size = value if pending is None else min(pending, value)

    def encode(self, headers: Iterable[tuple[bytes, bytes]]) -> bytes:
        """The header block for ``headers`` (names lower-case bytes, values bytes)."""
        parts: list[bytes] = []
        if self._pending_size is not None:
            # The table is empty anyway: announce the smallest size, then the current one.
            parts.append(encode_integer(self._pending_size, 5, _TABLE_SIZE_UPDATE))
            if self._pending_size != self._table_size:
                parts.append(encode_integer(self._table_size, 5, _TABLE_SIZE_UPDATE))
            self._pending_size = None
        cache = _FIELD_CACHE
        for field in headers:
            if field.__class__ is NeverIndexedHeaderTuple:
                parts.append(_literal(field[0], field[1], _LITERAL_NEVER_INDEXED))
                continue
            encoded = cache.get(field)
            if encoded is None:
                name, value = field
                encoded = encode_field(name, value)
                if len(name) + len(value) <= _CACHED_FIELD_LIMIT:
                    remember(cache, field, encoded, _CACHE_LIMIT)
            parts.append(encoded)
        return b"".join(parts)
