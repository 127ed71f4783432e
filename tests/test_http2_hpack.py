"""The stateless HPACK encoder: every block decodes, with hpack's own decoder, to its input."""

from __future__ import annotations

import pytest
from granian_core.http2.hpack_encoder import LiteralEncoder, encode_integer
from hpack import Decoder, NeverIndexedHeaderTuple
from hpack.exceptions import HPACKDecodingError
from hpack.hpack import decode_integer

RESPONSE = [
    (b":status", b"200"),
    (b"content-type", b"text/plain"),
    (b"content-length", b"13"),
    (b"server", b"granian"),
    (b"date", b"Tue, 24 Nov 2026 11:00:00 GMT"),
    (b"x-custom-name", b"v" * 300),  # not in the static table; multi-byte lengths
    (b"set-cookie", b""),
]


def test_blocks_decode_to_the_headers_and_leave_the_table_empty() -> None:
    encoder, decoder = LiteralEncoder(), Decoder()
    for _ in range(3):  # the second and third blocks come from the cache
        assert decoder.decode(encoder.encode(RESPONSE), raw=True) == RESPONSE
    assert len(decoder.header_table.dynamic_entries) == 0


def test_exact_static_fields_are_one_byte() -> None:
    assert LiteralEncoder().encode([(b":status", b"200")]) == b"\x88"  # static index 8


def test_never_indexed_fields_keep_their_representation() -> None:
    block = LiteralEncoder().encode([NeverIndexedHeaderTuple(b"authorization", b"secret")])
    assert block[0] & 0xF0 == 0x10  # literal never indexed (RFC 7541 §6.2.3)
    decoded = Decoder().decode(block, raw=True)
    assert decoded == [(b"authorization", b"secret")]
    assert isinstance(decoded[0], NeverIndexedHeaderTuple)


@pytest.mark.parametrize(
    ("sizes", "announced"),
    [([0], [0]), ([1024, 4096], [1024, 4096]), ([8192], [8192]), ([100, 50, 200], [50, 200])],
)
def test_table_size_changes_are_announced_in_the_next_block(
    sizes: list[int], announced: list[int]
) -> None:
    encoder, decoder = LiteralEncoder(), Decoder(max_header_list_size=1 << 16)
    decoder.max_allowed_table_size = max(sizes)  # what our SETTINGS would allow the peer
    for size in sizes:
        encoder.header_table_size = size
    block = encoder.encode(RESPONSE)
    expected = b"".join(encode_integer(size, 5, 0x20) for size in announced)
    assert block.startswith(expected)
    assert decoder.decode(block, raw=True) == RESPONSE
    assert decoder.header_table.maxsize == announced[-1]
    assert not encoder.encode(RESPONSE).startswith(expected)  # announced once


def test_a_decoder_holds_the_encoder_to_its_size_limit() -> None:
    # The size update is real: a decoder refuses one above what it allowed.
    encoder, decoder = LiteralEncoder(), Decoder()
    decoder.max_allowed_table_size = 1024
    encoder.header_table_size = 2048
    with pytest.raises(HPACKDecodingError):
        decoder.decode(encoder.encode(RESPONSE), raw=True)


@pytest.mark.parametrize(("value", "bits"), [(0, 5), (30, 5), (31, 5), (127, 7), (1337, 5)])
def test_integers_round_trip_through_hpack(value: int, bits: int) -> None:
    encoded = encode_integer(value, bits, 0)
    assert decode_integer(encoded, bits) == (value, len(encoded))


def test_long_fields_are_encoded_but_not_kept_by_the_process_cache() -> None:
    from granian_core.http2 import hpack_encoder

    long_field = (b"x-echo", b"v" * 5000)
    short_field = (b"x-short", b"v")
    block = LiteralEncoder().encode([long_field, short_field])
    assert Decoder().decode(block, raw=True) == [long_field, short_field]
    assert long_field not in hpack_encoder._FIELD_CACHE
    assert short_field in hpack_encoder._FIELD_CACHE
