"""HPACK header block decoding (RFC 7541) for a server connection.

``HeaderBlockDecoder.decode`` turns one complete header block (HEADERS plus its
CONTINUATIONs, as ``bytes``) into ``[(name, value), ...]`` of ``bytes``, exactly as
sent: no lower-casing, no validation of characters (the connection layer validates
fields), never-indexed fields returned like the others.
Any malformed block raises ``HPACKError``, which the connection maps to
``COMPRESSION_ERROR``.

Where the time goes, and what keeps it small:

* Indexed fields are a look-up returning the stored ``(name, value)`` tuple itself.
  A block made only of one-byte indexed fields (a keep-alive connection repeating a
  request) is decoded without a Python loop, by one ``itemgetter`` over a per-byte
  table: about 1 µs.
* Huffman-coded strings go through ``huffman_table``'s byte-at-a-time state machine,
  and through a process-wide cache from coded bytes to decoded bytes first: clients
  repeat the same values (user agents, paths, hosts) across connections.
* Size checks on integers bound the work an attacker can ask for: an integer takes
  at most 5 continuation bytes and stays under 2**32.

The header list size (RFC 9113 §6.5.2: ``len(name) + len(value) + 32`` per field) is
checked per field. Over ``max_header_list_size`` the list stops growing, but the rest
of the block is still decoded so the dynamic table stays in step with the peer's
encoder, then ``HeaderListTooLarge`` is raised: the connection may answer that one
stream (431 or a reset) and keep the connection. The work stays linear in the block
size, however many times a block references one large entry (the "HPACK bomb").
"""

from __future__ import annotations

from collections import deque
from itertools import islice
from operator import itemgetter

from hpack.table import HeaderTable

from granian_core.caches import remember

from .huffman_table import huffman_decode

__all__ = ["HPACKError", "HeaderBlockDecoder", "HeaderListTooLarge"]

Field = tuple[bytes, bytes]
#: A field with its size (§4.1), which is also what it adds to the header list size.
Entry = tuple[Field, int]


class HPACKError(Exception):
    """A header block that cannot be decoded: a connection error, COMPRESSION_ERROR.

    The dynamic table may then be out of step with the peer's: the decoder is not to be
    used again (except after ``HeaderListTooLarge``, see there).
    """


class HeaderListTooLarge(HPACKError):
    """The decoded header list exceeds ``max_header_list_size``.

    Raised after the whole block was decoded, so the dynamic table is still in step with
    the peer's: the connection may treat it as a stream error.
    """


#: RFC 7541 §4.1: an entry's size is its name and value lengths plus 32.
_ENTRY_OVERHEAD = 32
#: SETTINGS_HEADER_TABLE_SIZE's initial value (RFC 9113 §6.5.2).
_INITIAL_TABLE_SIZE = 4096


def _entry(name: bytes, value: bytes) -> Entry:
    return (name, value), len(name) + len(value) + _ENTRY_OVERHEAD


#: The static table (Appendix A): index 1 is ``_STATIC[0]``.
_STATIC: tuple[Entry, ...] = tuple(_entry(name, value) for name, value in HeaderTable.STATIC_TABLE)
_FIRST_DYNAMIC = len(_STATIC) + 1

#: An indexed field of index 1..126 is one byte, 0x81..0xFE (§6.1). Most fields of a
#: keep-alive connection's blocks are such bytes, so they are looked up by that byte.
_ONE_BYTE_INDEXED = bytes(range(0x81, 0xFF))
_FIRST_DYNAMIC_BYTE = 0x80 | _FIRST_DYNAMIC
_DYNAMIC_BYTES = 0xFF - _FIRST_DYNAMIC_BYTE
#: By the number of dynamic entries (at most those 65 count): the one-byte indexed fields
#: that name an entry. A block is only such bytes if deleting them leaves nothing.
_RESOLVABLE_BYTES = tuple(
    bytes(range(0x81, _FIRST_DYNAMIC_BYTE + count)) for count in range(_DYNAMIC_BYTES + 1)
)

#: First byte → the static entry it names, or None (anything else).
_STATIC_BY_BYTE: tuple[Entry | None, ...] = (
    *([None] * 0x81),
    *_STATIC,
    *([None] * (0x100 - _FIRST_DYNAMIC_BYTE)),
)

#: For blocks made only of one-byte indexed fields: fields and costs by byte (see
#: ``HeaderBlockDecoder._decode_indexed``); the bytes that name nothing are never read.
_NO_FIELD: Field = (b"", b"")
_STATIC_FIELDS_BY_BYTE = [_NO_FIELD] * 0x81 + [field for field, _ in _STATIC]
_STATIC_COSTS_BY_BYTE = [0] * 0x81 + [cost for _, cost in _STATIC]
_LARGEST_STATIC_COST = max(cost for _, cost in _STATIC)
_MAX_INDEXED_BLOCK_COUNTED = 1024

#: Integers (§5.1) are refused above this value, or when they need more continuation
#: bytes than a value this large does: a peer could otherwise send endless ones.
_MAX_INTEGER = (1 << 32) - 1
_MAX_CONTINUATION_SHIFT = 28  # the 5th continuation byte carries bits 28..34

#: Huffman-decoded strings, shared by every connection of the process: coded bytes →
#: decoded bytes. Bounded in entries (start over when full) and in the length cached.
_HUFFMAN_CACHE: dict[bytes, bytes] = {}
_HUFFMAN_CACHE_LIMIT = 4096
_HUFFMAN_CACHE_MAX_LENGTH = 256


def _decode_integer(block: bytes, pos: int, prefix_max: int) -> tuple[int, int]:
    """The value and end of an integer whose N-bit prefix was all ones (``prefix_max``).

    ``pos`` is the first continuation byte; ``IndexError`` if the block ends inside it.
    """
    value = 0
    shift = 0
    while True:
        octet = block[pos]
        pos += 1
        value |= (octet & 0x7F) << shift
        if not octet & 0x80:
            break
        if shift == _MAX_CONTINUATION_SHIFT:
            raise HPACKError("integer encoding too long")
        shift += 7
    value += prefix_max
    if value > _MAX_INTEGER:
        raise HPACKError("integer too large")
    return value, pos


def _huffman_decode(coded: bytes) -> bytes:
    """``coded`` decoded, and cached unless long (the cache was already asked)."""
    try:
        decoded = huffman_decode(coded)
    except ValueError as exc:
        raise HPACKError(str(exc)) from None
    if len(coded) <= _HUFFMAN_CACHE_MAX_LENGTH:
        remember(_HUFFMAN_CACHE, coded, decoded, _HUFFMAN_CACHE_LIMIT)
    return decoded


def _decode_string(block: bytes, pos: int) -> tuple[bytes, int]:
    """The string literal (§5.2) at ``pos`` and its end."""
    first = block[pos]
    length = first & 0x7F
    pos += 1
    if length == 0x7F:
        length, pos = _decode_integer(block, pos, 0x7F)
    end = pos + length
    if end > len(block):
        raise HPACKError("string literal runs past the end of the block")
    if first & 0x80:
        coded = block[pos:end]
        decoded = _HUFFMAN_CACHE.get(coded)
        return (_huffman_decode(coded) if decoded is None else decoded), end
    return block[pos:end], end


class HeaderBlockDecoder:
    """The decoding context of one connection: its dynamic table and limits."""

    __slots__ = (
        "_capacity",
        "_costs_by_byte",
        "_entries",
        "_fields_by_byte",
        "_largest_cost",
        "_lookup_stale",
        "_max_table_size",
        "_resolvable_bytes",
        "_size",
        "max_header_list_size",
    )

    def __init__(self, max_header_list_size: int = 16_777_216, max_table_size: int = 4096) -> None:
        #: Our SETTINGS_MAX_HEADER_LIST_SIZE; may be changed between blocks.
        self.max_header_list_size = max_header_list_size
        self._max_table_size = max_table_size
        #: The dynamic table, newest entry first, its size (§4.1) and its current maximum:
        #: HTTP/2's initial 4096 (a larger setting is used once the peer's encoder says so
        #: with a size update), or the setting if smaller (already in effect).
        self._entries: deque[Entry] = deque()
        self._size = 0
        self._capacity = min(max_table_size, _INITIAL_TABLE_SIZE)
        #: What the table's state means for blocks of one-byte indexed fields: the bytes
        #: naming an entry, an upper bound of any entry's size (none is over the table's
        #: maximum), and the look-ups by byte; rebuilt on the first such block after a
        #: change of the table (not on every change: literals change it one by one).
        self._resolvable_bytes = _RESOLVABLE_BYTES[0]
        self._largest_cost = 0
        self._fields_by_byte = _STATIC_FIELDS_BY_BYTE
        self._costs_by_byte = _STATIC_COSTS_BY_BYTE
        self._lookup_stale = True

    @property
    def max_table_size(self) -> int:
        """Our SETTINGS_HEADER_TABLE_SIZE: the ceiling for the peer's size updates.

        Construct with the value in effect (4096 until the peer acknowledged our SETTINGS),
        set it once the peer acknowledged a new one. Lowering it below the table's current
        maximum shrinks the table at once: the peer must do the same with a size update in
        its next block (§4.2), so no entry it may still use is lost. Raising it changes
        nothing until the peer's size update.
        """
        return self._max_table_size

    @max_table_size.setter
    def max_table_size(self, value: int) -> None:
        self._max_table_size = value
        if self._capacity > value:
            self._set_capacity(value)

    @property
    def dynamic_entries(self) -> list[Field]:
        """The dynamic table's fields, newest first (index 62 first)."""
        return [field for field, _ in self._entries]

    @property
    def dynamic_size(self) -> int:
        """The dynamic table's size as RFC 7541 §4.1 counts it."""
        return self._size

    @property
    def dynamic_capacity(self) -> int:
        """The dynamic table's current maximum size (the last size update)."""
        return self._capacity

    def decode(self, block: bytes) -> list[Field]:
        """The fields of one complete header block, in order; see the module docstring."""
        # Only one-byte indexed fields (naming existing entries, once the look-ups are fresh)?
        indexed = _ONE_BYTE_INDEXED if self._lookup_stale else self._resolvable_bytes
        if len(block) > 1 and not block.translate(None, indexed):
            headers = self._decode_indexed(block)
            if headers is not None:
                return headers
        try:
            return self._decode(block)
        except IndexError:
            raise HPACKError("header block truncated") from None

    def _decode_indexed(self, block: bytes) -> list[Field] | None:
        """Two or more one-byte indexed fields, picked by one ``itemgetter`` (no Python loop).

        None if one names no entry or the list may be over the size limit: the general
        path then decodes the block, counting as it goes, and raises the error.
        """
        if self._lookup_stale:
            self._refresh_lookup()
            if block.translate(None, self._resolvable_bytes):
                return None
        limit = self.max_header_list_size
        # The size is only added up when the worst case would be over the limit, and only
        # for small blocks: a large one (a bomb?) is counted field by field, the general way.
        count_size = len(block) * self._largest_cost > limit
        if count_size and len(block) > _MAX_INDEXED_BLOCK_COUNTED:
            return None
        pick = itemgetter(*block)
        if count_size and sum(pick(self._costs_by_byte)) > limit:
            return None
        return list(pick(self._fields_by_byte))

    def _refresh_lookup(self) -> None:
        dynamic = list(islice(self._entries, _DYNAMIC_BYTES))
        missing = _DYNAMIC_BYTES + 1 - len(dynamic)  # and 0xFF, the start of a longer index
        self._fields_by_byte = (
            _STATIC_FIELDS_BY_BYTE + [field for field, _ in dynamic] + [_NO_FIELD] * missing
        )
        self._costs_by_byte = _STATIC_COSTS_BY_BYTE + [cost for _, cost in dynamic] + [0] * missing
        self._resolvable_bytes = _RESOLVABLE_BYTES[len(dynamic)]
        self._largest_cost = max(self._capacity, _LARGEST_STATIC_COST)
        self._lookup_stale = False

    def _decode(self, block: bytes) -> list[Field]:
        """Any block; ``IndexError`` when it ends inside a representation."""
        end = len(block)
        pos = 0
        while pos < end and block[pos] & 0xE0 == 0x20:  # size updates: only first (§4.2)
            pos = self._resize(block, pos)
        headers: list[Field] = []
        append = headers.append
        static = _STATIC_BY_BYTE
        entries = self._entries
        budget = self.max_header_list_size
        while pos < end:
            first = block[pos]
            pos += 1
            entry = static[first]
            if entry is not None:  # one-byte static index, the most common case
                pass
            elif first & 0x80:  # indexed field (§6.1), dynamic
                index = first & 0x7F
                if index == 0x7F:
                    index, pos = _decode_integer(block, pos, 0x7F)
                position = index - _FIRST_DYNAMIC
                if index == 0 or position >= len(entries):
                    raise HPACKError(f"header index {index} out of range")
                entry = entries[position]
            elif first & 0x40:  # literal with incremental indexing (§6.2.1)
                entry, pos = self._literal(block, pos, first & 0x3F, 0x3F)
                self._add(entry)
            elif first & 0x20:
                raise HPACKError("dynamic table size update after the first field")
            else:  # literal without indexing / never indexed (§6.2.2, §6.2.3)
                entry, pos = self._literal(block, pos, first & 0x0F, 0x0F)
            field, cost = entry
            budget -= cost
            if budget >= 0:
                append(field)
        if budget < 0:
            raise HeaderListTooLarge("header list larger than max_header_list_size")
        return headers

    def _literal(self, block: bytes, pos: int, index: int, prefix_max: int) -> tuple[Entry, int]:
        """A literal field whose first byte carried ``index`` as its name-index prefix."""
        if index == prefix_max:
            index, pos = _decode_integer(block, pos, prefix_max)
        if index == 0:
            name, pos = _decode_string(block, pos)
        elif index < _FIRST_DYNAMIC:
            name = _STATIC[index - 1][0][0]
        else:
            name = self._dynamic_name(index)
        value, pos = _decode_string(block, pos)
        # _entry(name, value), inlined: a connection's first blocks are mostly literals.
        return ((name, value), len(name) + len(value) + _ENTRY_OVERHEAD), pos

    def _dynamic_name(self, index: int) -> bytes:
        """The name of dynamic entry ``index`` (>= 62; the indexed-field path in ``_decode``
        does the same look-up inline, it being the hot one)."""
        position = index - _FIRST_DYNAMIC
        if position >= len(self._entries):
            raise HPACKError(f"header index {index} out of range")
        return self._entries[position][0][0]

    def _resize(self, block: bytes, pos: int) -> int:
        """Applies the dynamic table size update at ``pos`` (§6.3); returns its end."""
        size = block[pos] & 0x1F
        pos += 1
        if size == 0x1F:
            size, pos = _decode_integer(block, pos, 0x1F)
        if size > self._max_table_size:
            raise HPACKError(f"table size update to {size} over {self._max_table_size}")
        self._set_capacity(size)
        return pos

    def _add(self, entry: Entry) -> None:
        """Inserts ``entry`` (§4.4): oldest entries go; one larger than the table empties it."""
        cost = entry[1]
        if cost > self._capacity:
            self._entries.clear()
            self._size = 0
        else:
            self._entries.appendleft(entry)
            self._size += cost
            if self._size > self._capacity:
                self._evict()
        self._lookup_stale = True

    def _set_capacity(self, capacity: int) -> None:
        self._capacity = capacity
        self._evict()
        self._lookup_stale = True

    def _evict(self) -> None:
        entries = self._entries
        size = self._size
        while size > self._capacity:
            size -= entries.pop()[1]
        self._size = size
