"""Our HPACK decoder (RFC 7541): the RFC's examples, every error, and hpack's encoder."""

from __future__ import annotations

import random
from typing import Any

import pytest
from granian_core.http2 import hpack_decoder
from granian_core.http2.hpack_decoder import HeaderBlockDecoder, HeaderListTooLarge, HPACKError
from granian_core.http2.hpack_encoder import encode_integer
from granian_core.http2.huffman_table import huffman_decode
from hpack import Decoder, Encoder
from hpack.exceptions import HPACKDecodingError
from hpack.huffman import HuffmanEncoder
from hpack.huffman_constants import REQUEST_CODES, REQUEST_CODES_LENGTH
from hpack.table import table_entry_size

Fields = list[tuple[bytes, bytes]]
HUFFMAN = HuffmanEncoder(REQUEST_CODES, REQUEST_CODES_LENGTH)


def fields(*pairs: tuple[str, str]) -> Fields:
    return [(name.encode(), value.encode()) for name, value in pairs]


def raw_string(data: bytes) -> bytes:
    """A string literal without Huffman coding (RFC 7541 §5.2)."""
    return encode_integer(len(data), 7, 0x00) + data


def huffman_string(coded: bytes) -> bytes:
    """A string literal marked Huffman-coded, holding ``coded`` as is."""
    return encode_integer(len(coded), 7, 0x80) + coded


def literal(name: bytes, value: bytes, flags: int = 0x40) -> bytes:
    """A literal field with a literal name (incremental indexing unless ``flags`` says)."""
    return bytes((flags,)) + raw_string(name) + raw_string(value)


# -- RFC 7541 Appendix C -------------------------------------------------------------------

# (block hex, decoded fields, dynamic table newest first, table size) per request/response.
Step = tuple[str, Fields, Fields, int]

AUTHORITY = (":authority", "www.example.com")
REQUESTS_HEADERS = [
    fields((":method", "GET"), (":scheme", "http"), (":path", "/"), AUTHORITY),
    fields(
        (":method", "GET"),
        (":scheme", "http"),
        (":path", "/"),
        AUTHORITY,
        ("cache-control", "no-cache"),
    ),
    fields(
        (":method", "GET"),
        (":scheme", "https"),
        (":path", "/index.html"),
        AUTHORITY,
        ("custom-key", "custom-value"),
    ),
]
REQUESTS_TABLES = [
    (fields(AUTHORITY), 57),
    (fields(("cache-control", "no-cache"), AUTHORITY), 110),
    (
        fields(
            ("custom-key", "custom-value"),
            ("cache-control", "no-cache"),
            AUTHORITY,
        ),
        164,
    ),
]
C3_BLOCKS = [
    "828684410f7777772e6578616d706c652e636f6d",
    "828684be58086e6f2d6361636865",
    "828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565",
]
C4_BLOCKS = [
    "828684418cf1e3c2e5f23a6ba0ab90f4ff",
    "828684be5886a8eb10649cbf",
    "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf",
]

DATE_1 = ("date", "Mon, 21 Oct 2013 20:13:21 GMT")
DATE_2 = ("date", "Mon, 21 Oct 2013 20:13:22 GMT")
LOCATION = ("location", "https://www.example.com")
COOKIE = ("set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1")
RESPONSES_HEADERS = [
    fields((":status", "302"), ("cache-control", "private"), DATE_1, LOCATION),
    fields((":status", "307"), ("cache-control", "private"), DATE_1, LOCATION),
    fields(
        (":status", "200"),
        ("cache-control", "private"),
        DATE_2,
        LOCATION,
        ("content-encoding", "gzip"),
        COOKIE,
    ),
]
RESPONSES_TABLES = [
    (fields(LOCATION, DATE_1, ("cache-control", "private"), (":status", "302")), 222),
    (fields((":status", "307"), LOCATION, DATE_1, ("cache-control", "private")), 222),
    (fields(COOKIE, ("content-encoding", "gzip"), DATE_2), 215),
]
C5_BLOCKS = [
    "4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a323120474d54"
    "6e1768747470733a2f2f7777772e6578616d706c652e636f6d",
    "4803333037c1c0bf",
    "88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d54c05a04677a6970"
    "7738666f6f3d4153444a4b48514b425a584f5157454f50495541585157454f49553b206d61782d6167"
    "653d333630303b2076657273696f6e3d31",
]
C6_BLOCKS = [
    "488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863"
    "c78f0b97c8e9ae82ae43d3",
    "4883640effc1c0bf",
    "88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7b3"
    "35dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007",
]


@pytest.mark.parametrize(
    ("blocks", "headers", "tables", "table_size"),
    [
        pytest.param(C3_BLOCKS, REQUESTS_HEADERS, REQUESTS_TABLES, 4096, id="C.3"),
        pytest.param(C4_BLOCKS, REQUESTS_HEADERS, REQUESTS_TABLES, 4096, id="C.4-huffman"),
        pytest.param(C5_BLOCKS, RESPONSES_HEADERS, RESPONSES_TABLES, 256, id="C.5-eviction"),
        pytest.param(C6_BLOCKS, RESPONSES_HEADERS, RESPONSES_TABLES, 256, id="C.6-huffman"),
    ],
)
def test_rfc7541_appendix_c_sequences_share_one_table(
    blocks: list[str], headers: list[Fields], tables: list[tuple[Fields, int]], table_size: int
) -> None:
    decoder = HeaderBlockDecoder(max_table_size=table_size)
    for block, expected, (entries, size) in zip(blocks, headers, tables, strict=True):
        assert decoder.decode(bytes.fromhex(block)) == expected
        assert decoder.dynamic_entries == entries
        assert decoder.dynamic_size == size


@pytest.mark.parametrize(
    ("block", "expected", "entries"),
    [
        pytest.param(
            "400a637573746f6d2d6b65790d637573746f6d2d686561646572",
            fields(("custom-key", "custom-header")),
            fields(("custom-key", "custom-header")),
            id="C.2.1-incremental",
        ),
        pytest.param(
            "040c2f73616d706c652f70617468",
            fields((":path", "/sample/path")),
            [],
            id="C.2.2-without-indexing",
        ),
        pytest.param(
            "100870617373776f726406736563726574",
            fields(("password", "secret")),
            [],
            id="C.2.3-never-indexed",
        ),
        pytest.param("82", fields((":method", "GET")), [], id="C.2.4-indexed"),
    ],
)
def test_rfc7541_appendix_c2_single_representations(
    block: str, expected: Fields, entries: Fields
) -> None:
    decoder = HeaderBlockDecoder()
    assert decoder.decode(bytes.fromhex(block)) == expected
    assert decoder.dynamic_entries == entries
    assert decoder.dynamic_size == (55 if entries else 0)


def test_names_and_values_are_returned_as_sent() -> None:
    block = literal(b"X-Mixed-Case", b"Value\x01", 0x00) + literal(b"", b"", 0x10)
    assert HeaderBlockDecoder().decode(block) == [(b"X-Mixed-Case", b"Value\x01"), (b"", b"")]


def test_literals_may_name_a_static_or_dynamic_entry() -> None:
    decoder = HeaderBlockDecoder()
    decoder.decode(literal(b"x-first", b"1"))
    # 0x0f 0x2f: literal without indexing, name index 15 + 47 = 62 (the entry just added).
    block = b"\x0f\x2f" + raw_string(b"2") + b"\x7a" + raw_string(b"3")  # 0x7a: static 58
    assert decoder.decode(block) == [(b"x-first", b"2"), (b"user-agent", b"3")]


# -- the dynamic table ---------------------------------------------------------------------


def test_insertions_evict_the_oldest_entries() -> None:
    decoder = HeaderBlockDecoder(max_table_size=110)
    decoder.decode(literal(b"a", b"1") + literal(b"b", b"2") + literal(b"c", b"3"))
    assert decoder.dynamic_entries == [(b"c", b"3"), (b"b", b"2"), (b"a", b"1")]
    assert decoder.dynamic_size == 3 * 34
    decoder.decode(literal(b"d", b"x" * 40))  # 73 more: "a" and "b" must go
    assert decoder.dynamic_entries == [(b"d", b"x" * 40), (b"c", b"3")]
    assert decoder.dynamic_size == 107
    assert decoder.decode(b"\xbf") == [(b"c", b"3")]  # index 63: the second newest


def test_an_entry_larger_than_the_table_empties_it() -> None:
    decoder = HeaderBlockDecoder(max_table_size=64)
    decoder.decode(literal(b"a", b"1"))
    assert decoder.decode(literal(b"big", b"x" * 40)) == [(b"big", b"x" * 40)]
    assert decoder.dynamic_entries == []
    assert decoder.dynamic_size == 0


def test_a_new_entry_may_name_the_entry_its_insertion_evicts() -> None:
    decoder = HeaderBlockDecoder(max_table_size=80)
    decoder.decode(literal(b"x-name", b"first"))  # 43 bytes: a second one evicts it
    block = b"\x7e" + raw_string(b"second")  # 0x7e: incremental indexing, name index 62
    assert decoder.decode(block) == [(b"x-name", b"second")]
    assert decoder.dynamic_entries == [(b"x-name", b"second")]


def test_references_follow_the_table_across_blocks() -> None:
    # Blocks of one-byte indexes take a fast path with its own look-up: it must follow
    # every change of the table.
    decoder = HeaderBlockDecoder(max_table_size=200)
    decoder.decode(literal(b"a", b"1") + literal(b"b", b"2"))
    assert decoder.decode(b"\x82\xbe\xbf") == [(b":method", b"GET"), (b"b", b"2"), (b"a", b"1")]
    decoder.decode(literal(b"c", b"3"))
    assert decoder.decode(b"\xbe\xbf\xc0") == [(b"c", b"3"), (b"b", b"2"), (b"a", b"1")]
    decoder.decode(b"\x3f\x03")  # size update to 34: only the newest entry stays
    assert decoder.decode(b"\xbe") == [(b"c", b"3")]
    assert decoder.decode(b"\x82\xbe") == [(b":method", b"GET"), (b"c", b"3")]
    for block in (b"\xbf", b"\x82\xbf", b"\xbe\xbf"):
        with pytest.raises(HPACKError, match="out of range"):
            decoder.decode(block)


def test_size_updates_at_the_start_resize_the_table() -> None:
    decoder = HeaderBlockDecoder()
    decoder.decode(literal(b"a", b"1") + literal(b"b", b"2"))
    # Two updates in a row (RFC 7541 §4.2): to 34 (evicts "a"), then to 100.
    assert decoder.decode(b"\x3f\x03\x3f\x45\x82") == [(b":method", b"GET")]
    assert decoder.dynamic_entries == [(b"b", b"2")]
    assert decoder.dynamic_capacity == 100
    assert decoder.decode(b"\x20") == []  # to 0: the table empties and stays empty
    assert decoder.decode(literal(b"c", b"3")) == [(b"c", b"3")]
    assert decoder.dynamic_entries == []


def test_a_size_update_after_a_field_is_an_error() -> None:
    with pytest.raises(HPACKError, match="after the first field"):
        HeaderBlockDecoder().decode(b"\x82\x20")


def test_a_size_update_over_our_setting_is_an_error() -> None:
    decoder = HeaderBlockDecoder(max_table_size=1024)
    decoder.decode(encode_integer(1024, 5, 0x20))
    with pytest.raises(HPACKError, match="over"):
        decoder.decode(encode_integer(1025, 5, 0x20))


def test_lowering_our_setting_shrinks_the_table_and_the_ceiling() -> None:
    decoder = HeaderBlockDecoder()
    decoder.decode(literal(b"a", b"1") + literal(b"b", b"2"))
    decoder.max_table_size = 40
    assert decoder.dynamic_entries == [(b"b", b"2")]
    assert decoder.dynamic_capacity == 40
    with pytest.raises(HPACKError):
        decoder.decode(encode_integer(41, 5, 0x20))
    decoder.max_table_size = 8192  # raising it lets the peer grow the table, no more
    assert decoder.dynamic_capacity == 40
    decoder.decode(encode_integer(8192, 5, 0x20))
    assert decoder.dynamic_capacity == 8192


# -- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "block",
    [
        pytest.param(b"\x80", id="index-0"),
        pytest.param(b"\xbe", id="dynamic-index-on-empty-table"),
        pytest.param(b"\x82\xff\x00", id="index-127-on-empty-table"),
        pytest.param(b"\xff\xff\xff\xff\x0f", id="huge-index"),
        pytest.param(b"\x7e" + raw_string(b"v"), id="literal-name-index-out-of-range"),
        pytest.param(b"\x0f\x2f" + raw_string(b"v"), id="literal-name-index-62-empty-table"),
    ],
)
def test_indexes_out_of_range_are_errors(block: bytes) -> None:
    with pytest.raises(HPACKError, match="out of range"):
        HeaderBlockDecoder().decode(block)


@pytest.mark.parametrize(
    "block",
    [
        pytest.param(b"\xff", id="in-an-index-integer"),
        pytest.param(b"\xff\x80", id="in-an-integer-continuation"),
        pytest.param(b"\x40", id="before-the-name"),
        pytest.param(b"\x40\x03ab", id="in-the-name"),
        pytest.param(b"\x40\x01a", id="before-the-value"),
        pytest.param(b"\x04\x05/pat", id="in-the-value"),
        pytest.param(b"\x04\x7f", id="in-a-string-length"),
        pytest.param(b"\x04\x7f\x90\x01" + b"x" * 100, id="long-string-cut"),
        pytest.param(b"\x3f", id="in-a-size-update"),
    ],
)
def test_truncated_blocks_are_errors(block: bytes) -> None:
    with pytest.raises(HPACKError):
        HeaderBlockDecoder().decode(block)


def test_every_cut_inside_a_representation_is_an_error() -> None:
    # Each block with the offsets where one of its representations ends.
    for hex_block, boundaries in ((C4_BLOCKS[0], {0, 1, 2, 3, 17}), (C6_BLOCKS[0], {0, 4, 11, 35})):
        block = bytes.fromhex(hex_block)
        for cut in range(len(block)):
            if cut in boundaries:
                continue
            with pytest.raises(HPACKError):
                HeaderBlockDecoder().decode(block[:cut])


def test_integers_with_endless_continuation_bytes_are_errors() -> None:
    with pytest.raises(HPACKError, match="too long"):
        HeaderBlockDecoder().decode(b"\xff" + b"\x80" * 10_000 + b"\x01")
    # Six continuation bytes, even with a small value, are longer than any valid integer.
    with pytest.raises(HPACKError, match="too long"):
        HeaderBlockDecoder().decode(b"\x3f\x81\x80\x80\x80\x80\x00")


def test_integers_over_2_to_the_32_are_errors() -> None:
    too_large = encode_integer(1 << 32, 5, 0x20)
    assert len(too_large) == 6  # five continuation bytes: a length the decoder reads
    with pytest.raises(HPACKError, match="too large"):
        HeaderBlockDecoder(max_table_size=1 << 40).decode(too_large)
    with pytest.raises(HPACKError, match="too large"):
        HeaderBlockDecoder().decode(b"\x04" + encode_integer(1 << 33, 7, 0x00))
    largest = encode_integer((1 << 32) - 1, 5, 0x20)
    decoder = HeaderBlockDecoder(max_table_size=1 << 40)
    assert decoder.decode(largest) == []
    assert decoder.dynamic_capacity == (1 << 32) - 1


def test_a_string_longer_than_the_block_is_an_error() -> None:
    with pytest.raises(HPACKError, match="past the end"):
        HeaderBlockDecoder().decode(b"\x04" + encode_integer(1 << 20, 7, 0x00) + b"abc")


@pytest.mark.parametrize(
    ("coded", "reason"),
    [
        # "a" is 00011 (5 bits); a whole byte of ones after it makes 11 padding bits.
        pytest.param(bytes((0b00011111, 0xFF)), "padding over 7 bits", id="long-padding"),
        pytest.param(bytes((0b00011110,)), "padding with a zero", id="padding-not-ones"),
        pytest.param(bytes((0b00011000,)), "padding of zeros", id="zero-padding"),
        pytest.param(b"\xff\xff\xff\xff", "EOS (30 ones) inside", id="eos"),
        pytest.param(b"\x1f\xff\xff\xff\xff", "a, then EOS", id="eos-after-a-symbol"),
    ],
)
def test_invalid_huffman_strings_are_errors(coded: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match="Huffman"):
        huffman_decode(coded)
    with pytest.raises(HPACKError, match="Huffman"):
        HeaderBlockDecoder().decode(b"\x04" + huffman_string(coded))


def test_huffman_padding_of_up_to_7_ones_is_accepted() -> None:
    assert huffman_decode(b"") == b""
    assert huffman_decode(bytes((0b00011111,))) == b"a"  # 3 padding bits
    assert huffman_decode(bytes((0b00011000, 0b11111111))) == b"aa"  # 6 padding bits
    assert huffman_decode(bytes.fromhex("18c631ff")) == b"aaaaa"  # 25 bits + 7 padding bits
    assert huffman_decode(bytes((0b11111000,))) == b"&"  # an 8-bit code, no padding


def test_huffman_decoding_matches_hpack_for_every_symbol_and_random_strings() -> None:
    every_byte = bytes(range(256))
    assert huffman_decode(HUFFMAN.encode(every_byte)) == every_byte
    for octet in range(256):
        assert huffman_decode(HUFFMAN.encode(bytes((octet,)))) == bytes((octet,))
    rng = random.Random(7541)
    for _ in range(500):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(40)))
        assert huffman_decode(HUFFMAN.encode(data)) == data


def test_the_huffman_cache_stays_bounded() -> None:
    cache = hpack_decoder._HUFFMAN_CACHE
    limit = hpack_decoder._HUFFMAN_CACHE_LIMIT
    decoder = HeaderBlockDecoder()
    for number in range(limit + 10):
        value = b"v%d" % number
        block = b"\x04" + huffman_string(HUFFMAN.encode(value))
        assert decoder.decode(block) == [(b":path", value)]
        assert len(cache) <= limit
    long_value = b"y" * 1000
    coded = HUFFMAN.encode(long_value)
    assert len(coded) > hpack_decoder._HUFFMAN_CACHE_MAX_LENGTH
    assert decoder.decode(b"\x04" + huffman_string(coded)) == [(b":path", long_value)]
    assert coded not in cache


# -- the header list size ------------------------------------------------------------------


def test_the_header_list_size_counts_32_bytes_per_field() -> None:
    block = b"\x82\x84"  # :method GET (42) + :path / (38) = 80
    assert HeaderBlockDecoder(max_header_list_size=80).decode(block) == fields(
        (":method", "GET"), (":path", "/")
    )
    with pytest.raises(HeaderListTooLarge):
        HeaderBlockDecoder(max_header_list_size=79).decode(block)
    with pytest.raises(HeaderListTooLarge):
        HeaderBlockDecoder(max_header_list_size=79).decode(b"\x84" + literal(b"ab", b"cdefghij", 0))


def test_the_hpack_bomb_stops_at_the_limit_and_keeps_the_table_in_step() -> None:
    decoder = HeaderBlockDecoder(max_header_list_size=65_536)
    big = b"x" * 4000
    decoder.decode(literal(b"big", big))
    bomb = b"\xbe" * 200_000  # 800 MB of headers, if anyone built them
    with pytest.raises(HeaderListTooLarge):
        decoder.decode(bomb)
    with pytest.raises(HeaderListTooLarge):
        decoder.decode(literal(b"c", b"3") + bomb)  # the general path, with a table change
    # The literal above was still added: the table matches what the peer's encoder has.
    assert decoder.dynamic_entries == [(b"c", b"3"), (b"big", big)]
    assert decoder.decode(b"\xbe\xbf") == [(b"c", b"3"), (b"big", big)]
    with pytest.raises(HeaderListTooLarge):
        decoder.decode(b"\xbf" * 20)  # a small block of references: 80 kB
    decoder.max_header_list_size = 1 << 30  # the limit may change between blocks
    assert decoder.decode(b"\xbf" * 20) == [(b"big", big)] * 20
    assert decoder.decode(b"\x82" * 3000) == [(b":method", b"GET")] * 3000


def test_a_bomb_in_one_block_is_counted_as_it_is_decoded() -> None:
    decoder = HeaderBlockDecoder(max_header_list_size=65_536)
    block = literal(b"big", b"x" * 4000) + b"\xbe" * 100_000
    with pytest.raises(HeaderListTooLarge):
        decoder.decode(block)


# -- against hpack's encoder ---------------------------------------------------------------

NAMES = [
    b":method",
    b":path",
    b":authority",
    b"user-agent",
    b"accept",
    b"cookie",
    b"x-request-id",
    b"x-custom",
    b"content-type",
    b"authorization",
]
VALUES = [b"", b"GET", b"/", b"/api/items?page=2", b"example.com", b"gzip, deflate", b"*/*"]


def random_headers(rng: random.Random) -> list[tuple[bytes, bytes] | tuple[bytes, bytes, bool]]:
    headers: list[tuple[bytes, bytes] | tuple[bytes, bytes, bool]] = []
    for _ in range(rng.randrange(1, 12)):
        name = rng.choice(NAMES) if rng.random() < 0.8 else random_bytes(rng, 1, 20)
        value = rng.choice(VALUES) if rng.random() < 0.5 else random_bytes(rng, 0, 200)
        if rng.random() < 0.1:
            headers.append((name, value, True))  # sensitive: never indexed
        else:
            headers.append((name, value))
    return headers


def random_bytes(rng: random.Random, shortest: int, longest: int) -> bytes:
    return bytes(rng.randrange(256) for _ in range(rng.randrange(shortest, longest + 1)))


@pytest.mark.parametrize("huffman", [True, False])
def test_blocks_from_hpacks_encoder_decode_to_their_headers(huffman: bool) -> None:
    rng = random.Random(20240 + huffman)
    for _ in range(40):  # connections
        encoder = Encoder()
        decoder = HeaderBlockDecoder(max_table_size=8192)
        for _ in range(8):  # consecutive blocks sharing the dynamic table
            if rng.random() < 0.15:
                encoder.header_table_size = rng.choice([0, 64, 256, 4096, 8192])
            headers = random_headers(rng)
            block = encoder.encode(headers, huffman=huffman)
            expected = [(header[0], header[1]) for header in headers]
            assert decoder.decode(block) == expected
            table_entries = list(encoder.header_table.dynamic_entries)
            assert decoder.dynamic_entries == table_entries
            table = encoder.header_table
            assert decoder.dynamic_size == sum(table_entry_size(*entry) for entry in table_entries)
            assert decoder.dynamic_capacity == table.maxsize


def test_corrupted_blocks_fail_or_decode_as_with_hpacks_decoder() -> None:
    rng = random.Random(7)
    valid = [bytes.fromhex(C4_BLOCKS[0]), bytes.fromhex(C6_BLOCKS[0])]
    for _ in range(3000):
        block = bytearray(rng.choice(valid))
        for _ in range(rng.randrange(1, 4)):
            block[rng.randrange(len(block))] = rng.randrange(256)
        try:
            ours: Fields | None = HeaderBlockDecoder().decode(bytes(block))
        except HPACKError:
            ours = None
        try:
            theirs: Fields | None = [
                (bytes(name), bytes(value)) for name, value in Decoder().decode(block, raw=True)
            ]
        except HPACKDecodingError:
            theirs = None
        assert ours == theirs, bytes(block).hex()


def test_repeated_blocks_from_hpacks_encoder_take_the_indexed_path() -> None:
    encoder, decoder = Encoder(), HeaderBlockDecoder()
    headers = [(b":method", b"GET"), (b":path", b"/"), (b"user-agent", b"h2load nghttp2/1.52.0")]
    assert decoder.decode(encoder.encode(headers)) == headers
    repeat = encoder.encode(headers)
    assert repeat == b"\x82\x84\xbe"
    for _ in range(3):
        assert decoder.decode(repeat) == headers


# -- micro-benchmark -----------------------------------------------------------------------

BROWSER_REQUEST = fields(
    (":method", "GET"),
    (":authority", "example.com"),
    (":scheme", "https"),
    (":path", "/api/items?page=2&sort=name"),
    ("user-agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
    ("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
    ("accept-language", "en-US,en;q=0.5"),
    ("accept-encoding", "gzip, deflate, br, zstd"),
    ("cookie", "session=0123456789abcdef0123456789abcdef; theme=dark"),
)


@pytest.mark.parametrize("block_number", [1, 2], ids=["first-block", "repeat-block"])
def test_decode_browser_block(benchmark: Any, block_number: int) -> None:
    """A browser's request head: first on a connection (literals), then repeated (indexed).

    Measure with ``hatch run pytest tests/test_http2_hpack_decoder.py --benchmark-enable``.
    """
    encoder = Encoder()
    first = encoder.encode(BROWSER_REQUEST)
    repeat = encoder.encode(BROWSER_REQUEST)
    connection = HeaderBlockDecoder()
    connection.decode(first)

    def decode() -> Fields:
        if block_number == 1:
            return HeaderBlockDecoder().decode(first)  # a new connection's empty table
        return connection.decode(repeat)

    assert benchmark(decode) == BROWSER_REQUEST
