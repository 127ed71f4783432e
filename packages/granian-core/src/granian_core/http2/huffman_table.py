"""HPACK Huffman decoding (RFC 7541 §5.2, Appendix B) as a byte-at-a-time state machine.

Walking the code tree bit by bit costs eight Python steps per input byte. Instead the
tree is compiled once, at import, into a table indexed by (state, input byte): a state is
an internal node of the tree (the bits read so far of the symbol being decoded), and each
entry gives the next state and the symbols completed by that byte (zero to two: the
shortest code is 5 bits). Decoding is then one table look-up per byte.

The table is built by composing the one-bit machine with itself (1 → 2 → 4 → 8 bits), so
each composition step is list concatenation rather than a walk per (state, byte): about
15 ms. It is held as two flat lists (next state, emitted bytes), ~1.7 MB, built on the
first Huffman string a worker decodes (an HTTP/1-only worker never pays for it).

Errors are absorbing: a byte that completes the EOS symbol leads to a dead state that
every byte maps back to. Whether the string ended well is read from the final state
alone: it must be the root or a node reached by at most 7 one-bits from it (the padding,
§5.2: the most significant bits of EOS, at most 7 of them).
"""

from __future__ import annotations

from itertools import chain

from hpack.huffman_constants import REQUEST_CODES, REQUEST_CODES_LENGTH

__all__ = ["huffman_decode"]

_EOS = 256
_MAX_PADDING_BITS = 7

#: Per state, per input: next state / bytes decoded (the width of an input varies).
_Rows = list[list[int]]
_EmitRows = list[list[bytes]]


def _code_tree() -> list[list[int]]:
    """Internal nodes of the code tree (node 0 is the root): ``[child_0, child_1]``.

    A child is an internal node's number, or ``~symbol`` (negative) for a leaf.
    """
    children: list[list[int]] = [[0, 0]]
    for symbol, (code, length) in enumerate(zip(REQUEST_CODES, REQUEST_CODES_LENGTH, strict=True)):
        node = 0
        for shift in range(length - 1, 0, -1):
            bit = (code >> shift) & 1
            child = children[node][bit]
            if child == 0:  # 0 is the root: never anyone's child, so it means "absent"
                child = len(children)
                children.append([0, 0])
                children[node][bit] = child
            node = child
        children[node][code & 1] = ~symbol
    return children


def _one_bit_machine(children: list[list[int]], dead: int) -> tuple[_Rows, _EmitRows]:
    """Per state, per input bit: the next state and the byte decoded (if any)."""
    single = [bytes((octet,)) for octet in range(256)]
    next_rows: _Rows = []
    emit_rows: _EmitRows = []
    for node in children:
        next_row: list[int] = []
        emit_row: list[bytes] = []
        for child in node:
            if child > 0:
                next_row.append(child)
                emit_row.append(b"")
            elif ~child == _EOS:  # EOS inside a string is an error (§5.2)
                next_row.append(dead)
                emit_row.append(b"")
            else:
                next_row.append(0)
                emit_row.append(single[~child])
        next_rows.append(next_row)
        emit_rows.append(emit_row)
    next_rows.append([dead, dead])
    emit_rows.append([b"", b""])
    return next_rows, emit_rows


def _compose(next_rows: _Rows, emit_rows: _EmitRows) -> tuple[_Rows, _EmitRows]:
    """The machine reading two inputs of ``next_rows``' width at once (k bits → 2k bits)."""
    composed_next: _Rows = []
    composed_emit: _EmitRows = []
    for first_next, first_emit in zip(next_rows, emit_rows, strict=True):
        next_row: list[int] = []
        emit_row: list[bytes] = []
        for middle, emitted in zip(first_next, first_emit, strict=True):
            # Inputs (high, low) with this high part continue from state `middle`.
            next_row.extend(next_rows[middle])
            if emitted:
                emit_row.extend(map(emitted.__add__, emit_rows[middle]))
            else:
                emit_row.extend(emit_rows[middle])
        composed_next.append(next_row)
        composed_emit.append(emit_row)
    return composed_next, composed_emit


def _accepting_states(children: list[list[int]]) -> frozenset[int]:
    """The root and the nodes reached from it by 1 to 7 one-bits: valid ends of a string."""
    states = [0]
    node = 0
    for _ in range(_MAX_PADDING_BITS):
        node = children[node][1]
        states.append(node)
    return frozenset(states)


def _build() -> tuple[list[int], list[bytes], frozenset[int]]:
    """Flat tables indexed by ``state_offset + byte`` (``state_offset = state * 256``)."""
    children = _code_tree()
    dead = len(children)
    next_rows, emit_rows = _one_bit_machine(children, dead)
    for _ in range(3):  # 1 → 2 → 4 → 8 bits
        next_rows, emit_rows = _compose(next_rows, emit_rows)
    offsets = [state << 8 for state in range(dead + 1)]  # shared int objects
    next_offsets = list(map(offsets.__getitem__, chain.from_iterable(next_rows)))
    # Equal outputs share one object (17,665 distinct of 65,792): a megabyte less.
    pieces = list(chain.from_iterable(emit_rows))
    shared: dict[bytes, bytes] = {}
    emitted = list(map(shared.setdefault, pieces, pieces))
    accepting = frozenset(offsets[state] for state in _accepting_states(children))
    return next_offsets, emitted, accepting


_tables: tuple[list[int], list[bytes], frozenset[int]] | None = None


def huffman_decode(data: bytes) -> bytes:
    """The string ``data`` encodes; ``ValueError`` on EOS inside it or invalid padding."""
    global _tables
    if _tables is None:
        _tables = _build()
    next_offsets, emitted, accepting = _tables
    state = 0
    out = bytearray()
    for octet in data:
        index = state + octet
        state = next_offsets[index]
        out += emitted[index]
    if state not in accepting:
        raise ValueError("invalid Huffman padding or EOS symbol in a string")
    return bytes(out)
