"""The sans-IO frame codec (``granian_core.ws.frames``): every RFC 6455 rule a server
enforces on inbound frames, partial input, and the frames it writes.

Frames are built with the raw test client's encoder (random masks) or wsproto's client,
and the server's frames are read back with wsproto's client: two independent codecs.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from granian_core.ws.codec import WSState
from granian_core.ws.deflate import negotiate_extensions
from granian_core.ws.frames import FrameCodec
from granian_core.ws.wsproto_codec import WsprotoCodec
from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Ping, Pong, TextMessage

from tests.apps.ws_raw import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    close_payload,
    encode_frame,
)

LIMIT = 1 << 20


class Recorder:
    """A FrameHandler that writes down what the codec reports, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def message_received(self, data: str | bytes) -> None:
        self.events.append(("message", data))

    def ping_received(self, payload: bytes) -> None:
        self.events.append(("ping", payload))

    def pong_received(self, payload: bytes) -> None:
        self.events.append(("pong", payload))

    def close_received(self, code: int, reason: str) -> None:
        self.events.append(("close", code, reason))

    def protocol_failed(self, code: int, reason: str) -> None:
        self.events.append(("failed", code))


def _codec(limit: int = LIMIT) -> tuple[FrameCodec, Recorder]:
    recorder = Recorder()
    return FrameCodec(recorder, limit), recorder


def _feed(data: bytes, limit: int = LIMIT, *, piece: int = 0) -> list[tuple[Any, ...]]:
    """What the codec reports for ``data``, fed whole (piece=0) or ``piece`` bytes at a time."""
    codec, recorder = _codec(limit)
    step = piece or len(data) or 1
    for i in range(0, len(data), step):
        codec.receive_data(data[i : i + step])
    return recorder.events


def _state(codec: FrameCodec | WsprotoCodec) -> WSState:
    return codec.state  # a call: the state changes behind mypy's narrowing


def _read_server_frames(data: bytes) -> list[Any]:
    client = Connection(ConnectionType.CLIENT)
    client.receive_data(data)
    return list(client.events())


# -- whole and partial input ------------------------------------------------------------------
FRAMES = [
    (encode_frame(OP_BINARY, b"0123456789abcdef"), ("message", b"0123456789abcdef")),
    (encode_frame(OP_TEXT, "héllo".encode()), ("message", "héllo")),
    (encode_frame(OP_BINARY, b""), ("message", b"")),
    (encode_frame(OP_TEXT, b""), ("message", "")),
    (encode_frame(OP_BINARY, b"m" * 126), ("message", b"m" * 126)),
    (encode_frame(OP_BINARY, b"\x01" * 65535), ("message", b"\x01" * 65535)),
    (encode_frame(OP_TEXT, b"L" * 70_000), ("message", "L" * 70_000)),
    (encode_frame(OP_PING, b"are you there"), ("ping", b"are you there")),
    (encode_frame(OP_PONG, b"p" * 125), ("pong", b"p" * 125)),
    (encode_frame(OP_CLOSE, close_payload(4000, "bye")), ("close", 4000, "bye")),
]


@pytest.mark.parametrize(("frame", "expected"), FRAMES)
@pytest.mark.parametrize("piece", [0, 1, 3, 1000])
def test_one_frame_whole_or_in_pieces(frame: bytes, expected: tuple[Any, ...], piece: int) -> None:
    if piece == 1 and len(frame) > 1000:
        piece = 997  # byte by byte is covered by the small frames; keep the test fast
    assert _feed(frame, piece=piece) == [expected]


def test_many_frames_in_one_chunk_then_byte_by_byte() -> None:
    stream = b"".join(frame for frame, _ in FRAMES)
    expected = [event for _, event in FRAMES]
    assert _feed(stream) == expected
    assert _feed(stream, piece=1) == expected
    assert _feed(stream, piece=4099) == expected


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 2047, 2048, 2049, 4096, 65536, 1 << 20])
def test_unmasking_every_size_class(size: int) -> None:
    payload = os.urandom(size)
    assert _feed(encode_frame(OP_BINARY, payload)) == [("message", payload)]


def test_frames_masked_by_wsproto_client() -> None:
    client = Connection(ConnectionType.CLIENT)
    wire = client.send(TextMessage(data="ünïcode " * 40)) + client.send(BytesMessage(data=b"b"))
    wire += client.send(Ping(payload=b"hi"))
    assert _feed(wire, piece=7) == [
        ("message", "ünïcode " * 40),
        ("message", b"b"),
        ("ping", b"hi"),
    ]


@pytest.mark.parametrize("wrap", [bytearray, memoryview])
def test_input_in_other_buffer_types(wrap: Any) -> None:
    codec, recorder = _codec()
    frame = encode_frame(OP_TEXT, b"buffer") + encode_frame(OP_BINARY, b"x" * 3000)
    codec.receive_data(wrap(frame[:5]))
    codec.receive_data(wrap(frame[5:]))
    assert recorder.events == [("message", "buffer"), ("message", b"x" * 3000)]


def test_partial_frame_waits_without_reporting() -> None:
    codec, recorder = _codec()
    frame = encode_frame(OP_BINARY, b"x" * 300)
    codec.receive_data(frame[:150])
    codec.receive_data(frame[150:299])
    assert recorder.events == []
    codec.receive_data(frame[299:] + frame[:1])
    assert recorder.events == [("message", b"x" * 300)]
    codec.receive_data(frame[1:])
    assert len(recorder.events) == 2


# -- fragmentation ------------------------------------------------------------------------------
def _fragmented_text_with_pings() -> bytes:
    word = "fragmént".encode()
    return (
        encode_frame(OP_TEXT, word[:5], fin=False)  # ends in the middle of "é"
        + encode_frame(OP_PING, b"1")
        + encode_frame(OP_CONT, word[5:6], fin=False)
        + encode_frame(OP_PONG, b"2")
        + encode_frame(OP_CONT, b"", fin=False)
        + encode_frame(OP_CONT, word[6:])
    )


@pytest.mark.parametrize("piece", [0, 1, 2, 5])
def test_fragmented_text_with_interleaved_control_frames(piece: int) -> None:
    events = _feed(_fragmented_text_with_pings(), piece=piece)
    assert events == [("ping", b"1"), ("pong", b"2"), ("message", "fragmént")]


def test_fragmented_binary_then_a_new_message() -> None:
    wire = (
        encode_frame(OP_BINARY, b"ab", fin=False)
        + encode_frame(OP_CONT, b"cd", fin=False)
        + encode_frame(OP_CONT, b"ef")
        + encode_frame(OP_TEXT, b"next")
        + encode_frame(OP_TEXT, b"again", fin=False)
        + encode_frame(OP_CONT, b"!")
    )
    assert _feed(wire, piece=3) == [
        ("message", b"abcdef"),
        ("message", "next"),
        ("message", "again!"),
    ]


@pytest.mark.parametrize(
    "wire",
    [
        encode_frame(OP_CONT, b"nothing to continue"),
        encode_frame(OP_BINARY, b"a", fin=False) + encode_frame(OP_BINARY, b"b"),
        encode_frame(OP_TEXT, b"a", fin=False) + encode_frame(OP_TEXT, b"b"),
        encode_frame(OP_BINARY, b"done") + encode_frame(OP_CONT, b"more"),
    ],
    ids=["orphan-continuation", "binary-inside-binary", "text-inside-text", "after-the-end"],
)
def test_fragmentation_order_violations_are_1002(wire: bytes) -> None:
    assert _feed(wire)[-1] == ("failed", 1002)


# -- bad frames ----------------------------------------------------------------------------------
def _header(first: int, second: int, extended: bytes = b"") -> bytes:
    return bytes((first, second)) + extended + b"\x00\x00\x00\x00"


BAD_FRAMES = {
    "unmasked": (encode_frame(OP_TEXT, b"x", mask=False), 1002),
    "rsv1": (encode_frame(OP_TEXT, b"x", rsv1=True), 1002),
    "rsv2": (_header(0x80 | 0x20 | OP_BINARY, 0x80), 1002),
    "rsv3": (_header(0x80 | 0x10 | OP_BINARY, 0x80), 1002),
    **{f"opcode-{op:#x}": (encode_frame(op, b"x"), 1002) for op in (3, 4, 5, 6, 7, 11, 15)},
    "fragmented-ping": (encode_frame(OP_PING, b"x", fin=False), 1002),
    "fragmented-close": (encode_frame(OP_CLOSE, b"", fin=False), 1002),
    "long-ping": (encode_frame(OP_PING, b"x" * 126), 1002),
    "long-pong": (_header(0x80 | OP_PONG, 0x80 | 127, struct.pack("!Q", 1 << 20)), 1002),
    "length-16-not-minimal": (_header(0x82, 0x80 | 126, struct.pack("!H", 125)), 1002),
    "length-64-not-minimal": (_header(0x82, 0x80 | 127, struct.pack("!Q", 0xFFFF)), 1002),
    "length-64-msb": (_header(0x82, 0x80 | 127, struct.pack("!Q", 1 << 63)), 1002),
    "invalid-utf8": (encode_frame(OP_TEXT, b"\xff\xfe"), 1007),
    "truncated-utf8": (encode_frame(OP_TEXT, "é".encode()[:1]), 1007),
    "utf8-surrogate": (encode_frame(OP_TEXT, b"\xed\xa0\x80"), 1007),
    "one-byte-close": (encode_frame(OP_CLOSE, b"\x03"), 1002),
    "close-reason-utf8": (encode_frame(OP_CLOSE, close_payload(1000) + b"\xff"), 1007),
    **{
        f"close-code-{code}": (encode_frame(OP_CLOSE, close_payload(code)), 1002)
        for code in (0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535)
    },
}


@pytest.mark.parametrize(("wire", "code"), BAD_FRAMES.values(), ids=BAD_FRAMES.keys())
@pytest.mark.parametrize("piece", [0, 1])
def test_bad_frames_fail_with_the_right_code(wire: bytes, code: int, piece: int) -> None:
    assert _feed(wire, piece=piece) == [("failed", code)]


def test_invalid_utf8_across_fragments_fails_on_the_bad_fragment() -> None:
    codec, recorder = _codec()
    codec.receive_data(encode_frame(OP_TEXT, b"ok \xe2\x82", fin=False))
    assert recorder.events == []
    codec.receive_data(encode_frame(OP_CONT, b"\x41", fin=False))
    assert recorder.events == [("failed", 1007)]


def test_text_ending_inside_a_code_point_is_1007() -> None:
    wire = encode_frame(OP_TEXT, b"ok \xe2", fin=False) + encode_frame(OP_CONT, b"\x82")
    assert _feed(wire) == [("failed", 1007)]


@pytest.mark.parametrize("code", [1000, 1001, 1003, 1007, 1011, 1014, 3000, 4999])
def test_valid_close_codes(code: int) -> None:
    assert _feed(encode_frame(OP_CLOSE, close_payload(code, "ré"))) == [("close", code, "ré")]


def test_empty_close_is_1005() -> None:
    assert _feed(encode_frame(OP_CLOSE, b"")) == [("close", 1005, "")]


def test_nothing_is_parsed_after_a_close_or_a_failure() -> None:
    after = encode_frame(OP_BINARY, b"late") + encode_frame(OP_PING, b"")
    assert _feed(encode_frame(OP_CLOSE, b"") + after) == [("close", 1005, "")]
    codec, recorder = _codec()
    codec.receive_data(encode_frame(0x3, b"") + after)
    codec.receive_data(after)
    assert recorder.events == [("failed", 1002)]


# -- message size limit ----------------------------------------------------------------------------
def test_limit_is_inclusive_and_resets_per_message() -> None:
    wire = encode_frame(OP_BINARY, b"x" * 10) * 3 + encode_frame(OP_TEXT, b"y" * 10)
    assert _feed(wire, limit=10) == [("message", b"x" * 10)] * 3 + [("message", "y" * 10)]


def test_declared_length_over_the_limit_fails_on_the_header() -> None:
    codec, recorder = _codec(64 * 1024)
    # Only the 14-byte header of a 1 TiB frame: the codec must not wait for the payload.
    codec.receive_data(encode_frame(OP_BINARY, b"", length=1 << 40))
    assert recorder.events == [("failed", 1009)]


def test_header_arriving_byte_by_byte_fails_as_soon_as_the_length_is_known() -> None:
    codec, recorder = _codec(1000)
    header = encode_frame(OP_BINARY, b"", length=1001)  # 2 + 2 length bytes + 4 mask bytes
    for i in range(3):
        codec.receive_data(header[i : i + 1])
    assert recorder.events == []
    codec.receive_data(header[3:4])
    assert recorder.events == [("failed", 1009)]


def test_fragments_adding_up_over_the_limit() -> None:
    wire = (
        encode_frame(OP_TEXT, b"12345", fin=False)
        + encode_frame(OP_PING, b"pings do not count")
        + encode_frame(OP_CONT, b"67890", fin=False)
        + encode_frame(OP_CONT, b"1")
    )
    assert _feed(wire, limit=10) == [("ping", b"pings do not count"), ("failed", 1009)]


def test_control_frames_are_not_held_to_the_message_limit() -> None:
    assert _feed(encode_frame(OP_PING, b"p" * 100), limit=10) == [("ping", b"p" * 100)]


# -- close handshake state ------------------------------------------------------------------------
def test_peer_closes_first() -> None:
    codec, recorder = _codec()
    assert _state(codec) is WSState.OPEN
    codec.receive_data(encode_frame(OP_CLOSE, close_payload(1000, "done")))
    assert _state(codec) is WSState.REMOTE_CLOSING
    echo = codec.close_frame(1000, "done")
    assert _state(codec) is WSState.CLOSED
    assert echo == b"\x88\x06" + close_payload(1000, "done")


def test_we_close_first() -> None:
    codec, recorder = _codec()
    assert codec.close_frame(4001, "bye") == b"\x88\x05" + close_payload(4001, "bye")
    assert _state(codec) is WSState.LOCAL_CLOSING
    codec.receive_data(encode_frame(OP_TEXT, b"in flight") + encode_frame(OP_CLOSE, b""))
    assert _state(codec) is WSState.CLOSED
    assert recorder.events == [("message", "in flight"), ("close", 1005, "")]
    with pytest.raises(RuntimeError):
        codec.close_frame(1000)


def test_a_failure_leaves_the_state_to_our_close_frame() -> None:
    codec, recorder = _codec()
    codec.receive_data(encode_frame(OP_TEXT, b"x", mask=False))
    assert recorder.events == [("failed", 1002)]
    assert _state(codec) is WSState.OPEN
    codec.close_frame(1002, "unmasked")
    assert _state(codec) is WSState.LOCAL_CLOSING


# -- outbound frames -------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 200_000])
def test_data_frames_round_trip_through_a_client(size: int) -> None:
    codec, _ = _codec()
    text = "t" * size
    data = os.urandom(size)
    events = _read_server_frames(codec.text_frame(text) + codec.binary_frame(data))
    assert [(type(e), e.data, e.message_finished) for e in events] == [
        (TextMessage, text, True),
        (BytesMessage, data, True),
    ]


@pytest.mark.parametrize(("size", "header_size"), [(125, 2), (126, 4), (65535, 4), (65536, 10)])
def test_header_uses_the_shortest_length_form(size: int, header_size: int) -> None:
    codec, _ = _codec()
    assert len(codec.binary_frame(b"\x00" * size)) == size + header_size


def test_non_ascii_text_length_counts_bytes() -> None:
    codec, _ = _codec()
    frame = codec.text_frame("é" * 63)  # 126 bytes: needs the 16-bit length
    assert frame[:4] == b"\x81\x7e\x00\x7e"


def test_control_frames() -> None:
    codec, _ = _codec()
    events = _read_server_frames(codec.ping(b"keepalive") + codec.pong(b"") + codec.pong(b"x"))
    assert [(type(e), e.payload) for e in events] == [
        (Ping, b"keepalive"),
        (Pong, b""),
        (Pong, b"x"),
    ]
    with pytest.raises(ValueError, match="125"):
        codec.ping(b"x" * 126)


def test_close_frame_without_a_code_is_empty() -> None:
    codec, _ = _codec()
    assert codec.close_frame(None) == b"\x88\x00"
    codec, _ = _codec()
    assert codec.close_frame(1005) == b"\x88\x00"


def test_long_close_reason_is_cut_on_a_character_boundary() -> None:
    codec, _ = _codec()
    frame = codec.close_frame(1000, "é" * 100)  # 200 bytes: 122 fit (61 characters)
    events = _read_server_frames(frame)
    assert isinstance(events[0], CloseConnection)
    assert (events[0].code, events[0].reason) == (1000, "é" * 61)


@pytest.mark.parametrize(
    "offer",
    [
        "permessage-deflate; client_max_window_bits; client_max_window_bits",  # twice
        "permessage-deflate; server_no_context_takeover=1",  # a value on a flag
        "permessage-deflate; client_no_context_takeover=",
        "permessage-deflate; server_max_window_bits",  # needs its value
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; client_max_window_bits=7",
        "permessage-deflate; client_max_window_bits=010",
        "permessage-deflate; client_max_window_bits=abc",
        "permessage-deflate; unknown_param",
        "permessage-deflate; =1",
    ],
)
def test_an_invalid_deflate_offer_is_declined(offer: str) -> None:
    # RFC 7692 §7: a server MUST decline these (the duplicate and the value used to pass).
    answer, _ = negotiate_extensions([offer], LIMIT, True)
    assert answer is None


@pytest.mark.parametrize(
    ("offer", "answer"),
    [
        ("permessage-deflate", b"permessage-deflate"),
        ("permessage-deflate; client_max_window_bits", b"permessage-deflate"),
        ('permessage-deflate; client_max_window_bits="10"', b"client_max_window_bits=10"),
        ("permessage-deflate; server_no_context_takeover", b"server_no_context_takeover"),
    ],
)
def test_a_valid_deflate_offer_is_accepted(offer: str, answer: bytes) -> None:
    accepted, _ = negotiate_extensions(["x-unknown", offer], LIMIT, True)
    assert accepted is not None
    assert answer in accepted


# -- the wsproto-backed codec (deflate sessions) agrees --------------------------------------------
def _wsproto_codec(limit: int = LIMIT) -> tuple[WsprotoCodec, Recorder]:
    recorder = Recorder()
    _, extensions = negotiate_extensions([], limit, True)
    return WsprotoCodec(recorder, extensions), recorder


def _both(wire: bytes, limit: int = LIMIT) -> Iterator[list[tuple[Any, ...]]]:
    yield _feed(wire, limit)
    codec, recorder = _wsproto_codec(limit)
    codec.receive_data(wire)
    yield recorder.events


@pytest.mark.parametrize(
    "wire",
    [frame for frame, _ in FRAMES]
    + [_fragmented_text_with_pings()]
    + [wire for wire, _ in BAD_FRAMES.values()],
)
def test_wsproto_codec_reports_the_same(wire: bytes) -> None:
    ours, theirs = _both(wire)
    assert ours == theirs


def test_wsproto_codec_size_limit_and_states() -> None:
    ours, theirs = _both(encode_frame(OP_BINARY, b"x" * 11), limit=10)
    assert ours == theirs == [("failed", 1009)]
    codec, recorder = _wsproto_codec()
    codec.receive_data(encode_frame(OP_CLOSE, b""))
    assert _state(codec) is WSState.REMOTE_CLOSING
    assert codec.close_frame(1005) == b"\x88\x00"  # the echo of an empty close is empty
    assert _state(codec) is WSState.CLOSED
    codec.receive_data(encode_frame(OP_TEXT, b"ignored"))
    assert recorder.events == [("close", 1005, "")]


def test_wsproto_codec_frames_match_ours() -> None:
    ours, _ = _codec()
    theirs, _ = _wsproto_codec()
    for size in (0, 125, 126, 70_000):
        assert theirs.text_frame("a" * size) == ours.text_frame("a" * size)
        assert theirs.binary_frame(b"b" * size) == ours.binary_frame(b"b" * size)
    assert theirs.ping(b"p") == ours.ping(b"p")
    assert theirs.pong(b"q") == ours.pong(b"q")
    assert theirs.close_frame(4000, "r") == ours.close_frame(4000, "r")


def _wsproto_feed(
    wire: bytes, limit: int = LIMIT, *, piece: int = 0, offers: tuple[str, ...] = ()
) -> list[tuple[Any, ...]]:
    recorder = Recorder()
    _, extensions = negotiate_extensions(list(offers), limit, True)
    codec = WsprotoCodec(recorder, extensions)
    step = piece or len(wire) or 1
    for i in range(0, len(wire), step):
        codec.receive_data(wire[i : i + step])
    return recorder.events


# Found by differential fuzzing of the two codecs: wsproto checks the order of fragments
# only after the extensions saw the payload, so the size guard counted a stray fragment.
@pytest.mark.parametrize(
    ("wire", "limit", "expected"),
    [
        (
            encode_frame(OP_BINARY, b"a") + encode_frame(OP_CONT, b"b"),
            1,
            [("message", b"a"), ("failed", 1002)],
        ),
        (
            encode_frame(OP_BINARY, b"ab") + encode_frame(OP_CONT, b"xyz"),
            3,
            [("message", b"ab"), ("failed", 1002)],
        ),
        (
            encode_frame(OP_BINARY, b"", fin=False) + encode_frame(OP_BINARY, b"xy"),
            1,
            [("failed", 1002)],
        ),
    ],
    ids=["orphan-continuation-over-the-last-message", "orphan-within-limit", "new-and-too-big"],
)
@pytest.mark.parametrize("piece", [0, 1])
def test_fragment_order_is_1002_before_any_size_check(
    wire: bytes, limit: int, expected: list[tuple[Any, ...]], piece: int
) -> None:
    assert _feed(wire, limit, piece=piece) == expected
    assert _wsproto_feed(wire, limit, piece=piece) == expected


@pytest.mark.parametrize("piece", [0, 1, 7])
def test_compressed_frame_out_of_order_is_1002_however_split(piece: int) -> None:
    wire = encode_frame(OP_BINARY, b"", fin=False) + encode_frame(OP_BINARY, b"xy", rsv1=True)
    events = _wsproto_feed(wire, 1, piece=piece, offers=("permessage-deflate",))
    assert events == [("failed", 1002)]


def _deflated(data: bytes, compressor: Any) -> bytes:
    """One permessage-deflate message body (RFC 7692: the sync-flush tail removed)."""
    return (compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]


@pytest.mark.parametrize("control", [OP_PING, OP_PONG])
@pytest.mark.parametrize("piece", [0, 1])
def test_control_frame_between_compressed_fragments(control: int, piece: int) -> None:
    # RFC 6455 5.4: control frames may come between fragments. wsproto's deflate hook
    # forgot the message was compressed after one, and passed raw deflate bytes through.
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = _deflated(b"a" * 40, compressor)
    second = _deflated(b"second message", compressor)  # needs the shared context
    wire = (
        encode_frame(OP_TEXT, first[:1], fin=False, rsv1=True)
        + encode_frame(control, b"c")
        + encode_frame(OP_CONT, first[1:])
        + encode_frame(OP_BINARY, second, rsv1=True)
    )
    kind = "ping" if control == OP_PING else "pong"
    events = _wsproto_feed(wire, piece=piece, offers=("permessage-deflate",))
    assert events == [(kind, b"c"), ("message", "a" * 40), ("message", b"second message")]
