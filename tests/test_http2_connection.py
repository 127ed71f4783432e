"""The sans-IO HTTP/2 server connection (``http2.connection``), without sockets.

Driven by a real h2 client connection (bytes handed across in memory), and by
hand-built frames for the violations h2's client refuses to produce. Frames the
server writes are parsed here with a few lines of ``struct``, independently of
``http2.frames``.
"""

from __future__ import annotations

import struct
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.settings
import hpack
import pytest
from granian_core.http2.connection import (
    PREFACE,
    ProtocolError,
    ServerConnection,
    StreamClosedError,
)
from granian_core.http2.header_block import max_continuations
from granian_core.http2.headers import RequestHead
from granian_core.http2.settings import H2Settings, new_connection

# Frame types, flags and error codes as RFC 9113 numbers them.
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY = range(8)
WINDOW_UPDATE, CONTINUATION = 8, 9
END_STREAM = ACK = 0x1
END_HEADERS, PADDED, PRIORITY_FLAG = 0x4, 0x8, 0x20
NO_ERROR, PROTOCOL_ERROR, FLOW_CONTROL_ERROR = 0x0, 0x1, 0x3
STREAM_CLOSED, FRAME_SIZE_ERROR, REFUSED_STREAM = 0x5, 0x6, 0x7
COMPRESSION_ERROR, ENHANCE_YOUR_CALM = 0x9, 0xB

Frame = tuple[int, int, int, bytes]  # type, flags, stream id, payload


class EventLog:
    """A ``ConnectionEvents`` handler that records every call as a tuple."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def on_request(self, stream_id: int, head: RequestHead, ended: bool) -> None:
        self.events.append(("request", stream_id, head, ended))

    def on_data(self, stream_id: int, data: bytes, flow_length: int) -> None:
        self.events.append(("data", stream_id, data, flow_length))

    def on_discarded(self, flow_length: int) -> None:
        self.events.append(("discarded", flow_length))

    def on_trailers(self, stream_id: int, trailers: list[tuple[bytes, bytes]]) -> None:
        self.events.append(("trailers", stream_id, trailers))

    def on_stream_ended(self, stream_id: int) -> None:
        self.events.append(("ended", stream_id))

    def on_reset(self, stream_id: int, error_code: int, remote: bool) -> None:
        self.events.append(("reset", stream_id, error_code, remote))

    def on_window_update(self, stream_id: int) -> None:
        self.events.append(("window", stream_id))

    def on_settings(self, changed: dict[int, int]) -> None:
        self.events.append(("settings", changed))

    def on_ping(self, opaque: bytes) -> None:
        self.events.append(("ping", opaque))

    def on_ping_ack(self, opaque: bytes) -> None:
        self.events.append(("ping_ack", opaque))

    def on_terminated(self, error_code: int, last_stream_id: int) -> None:
        self.events.append(("terminated", error_code, last_stream_id))

    def take(self) -> list[tuple[Any, ...]]:
        events, self.events = self.events, []
        return events

    def kinds(self) -> list[str]:
        return [event[0] for event in self.take()]


def h2_client(**settings: int) -> h2.connection.H2Connection:
    client = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=True, header_encoding=None)
    )
    client.initiate_connection()
    if settings:
        codes = h2.settings.SettingCodes
        client.update_settings({getattr(codes, k.upper()): v for k, v in settings.items()})
    return client


def exchange_bytes(
    client: h2.connection.H2Connection, server: ServerConnection
) -> list[h2.events.Event]:
    """Move bytes both ways until quiet; returns the client's events."""
    events: list[h2.events.Event] = []
    for _ in range(20):
        to_server = client.data_to_send()
        to_client = server.data_to_send()
        if not to_server and not to_client:
            break
        if to_server:
            server.receive_data(to_server)
        if to_client:
            events += client.receive_data(to_client)
    return events


def parse_frames(data: bytes) -> list[Frame]:
    frames = []
    offset = 0
    while offset < len(data):
        high, low, kind, flags, stream_id = struct.unpack_from(">BHBBL", data, offset)
        length = (high << 16) | low
        payload = data[offset + 9 : offset + 9 + length]
        frames.append((kind, flags, stream_id & 0x7FFFFFFF, payload))
        offset += 9 + length
    return frames


def raw(kind: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    length = len(payload)
    return struct.pack(">BHBBL", length >> 16, length & 0xFFFF, kind, flags, stream_id) + payload


GET = [(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/a?b=1"), (b":authority", b"x")]
POST = [(b":method", b"POST"), *GET[1:]]
RESPONSE = [(b":status", b"200"), (b"content-length", b"5")]


class Pair:
    """A server connection handshaken with an h2 client, in memory."""

    def __init__(self, settings: H2Settings | None = None, **client_settings: int) -> None:
        self.log = EventLog()
        self.server = new_connection(settings or H2Settings(), self.log)
        self.client = h2_client(**client_settings)
        self.client_events = exchange_bytes(self.client, self.server)
        self.log.take()

    def request(self, headers: list[tuple[bytes, bytes]] = GET, body: bytes = b"") -> int:
        stream_id = int(self.client.get_next_available_stream_id())
        self.client.send_headers(stream_id, headers, end_stream=not body)
        if body:
            self.client.send_data(stream_id, body, end_stream=True)
        self.client_events += exchange_bytes(self.client, self.server)
        return stream_id

    def open(self, headers: list[tuple[bytes, bytes]] = POST) -> int:
        """A request whose body is still to come."""
        stream_id = int(self.client.get_next_available_stream_id())
        self.client.send_headers(stream_id, headers)
        self.client_events += exchange_bytes(self.client, self.server)
        return stream_id

    def headers_frame(
        self, stream_id: int, headers: list[tuple[bytes, bytes]], flags: int = END_HEADERS
    ) -> bytes:
        """A hand-made HEADERS frame, its block from the client's own encoder."""
        return raw(HEADERS, flags, stream_id, self.client.encoder.encode(headers))

    def feed(self, data: bytes) -> list[Frame]:
        """Raw bytes to the server; the frames it answers with."""
        self.server.receive_data(data)
        return parse_frames(self.server.data_to_send())

    def connection_error(self, data: bytes) -> int:
        """Feed ``data``, which must be a connection error; the GOAWAY's code."""
        with pytest.raises(ProtocolError) as info:
            self.server.receive_data(data)
        frames = parse_frames(self.server.data_to_send())
        assert frames[-1][0] == GOAWAY
        last_stream, code = struct.unpack(">LL", frames[-1][3][:8])
        assert last_stream == self.server.highest_inbound_stream_id
        assert code == info.value.error_code
        self.server.receive_data(raw(PING, 0, 0, b"8 bytes!"))  # ignored from now on
        assert not self.server.data_to_send()
        return int(code)

    def stream_error(self, data: bytes) -> tuple[int, int]:
        """Feed ``data``, which must reset one stream; ``(stream_id, code)``."""
        resets = [f for f in self.feed(data) if f[0] == RST_STREAM]
        assert len(resets) == 1, resets
        _, _, stream_id, payload = resets[0]
        return stream_id, int.from_bytes(payload, "big")


def goaway_of(data: bytes) -> tuple[int, int]:
    (frame,) = [f for f in parse_frames(data) if f[0] == GOAWAY]
    last_stream, code = struct.unpack(">LL", frame[3][:8])
    return last_stream, code


# -- preamble and settings ---------------------------------------------------------------------
def test_preamble_advertises_the_settings_and_raises_the_connection_window() -> None:
    pair = Pair(H2Settings(max_concurrent_streams=7, stream_window=1000, connection_window=10**6))
    changed = next(e for e in pair.client_events if isinstance(e, h2.events.RemoteSettingsChanged))
    values = {int(code): s.new_value for code, s in changed.changed_settings.items()}
    assert values[3] == 7
    assert values[4] == 1000
    assert pair.client.outbound_flow_control_window == 10**6
    assert any(isinstance(e, h2.events.SettingsAcknowledged) for e in pair.client_events)


def test_a_bad_preface_is_a_connection_error() -> None:
    server = new_connection(H2Settings(), EventLog())
    server.data_to_send()
    with pytest.raises(ProtocolError):
        server.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert goaway_of(server.data_to_send()) == (0, PROTOCOL_ERROR)


def test_the_first_frame_must_be_settings() -> None:
    server = new_connection(H2Settings(), EventLog())
    server.data_to_send()
    with pytest.raises(ProtocolError):
        server.receive_data(PREFACE + raw(PING, 0, 0, b"12345678"))
    assert goaway_of(server.data_to_send())[1] == PROTOCOL_ERROR


def test_the_preface_may_arrive_byte_by_byte() -> None:
    log = EventLog()
    server = new_connection(H2Settings(), log)
    client = h2_client()
    data = client.data_to_send()
    client.send_headers(1, GET, end_stream=True)
    data += client.data_to_send()
    for index in range(len(data)):
        server.receive_data(data[index : index + 1])
    assert [e[0] for e in log.take()] == ["settings", "request"]


def test_a_large_frame_arriving_in_pieces_is_assembled() -> None:
    pair = Pair(
        H2Settings(max_frame_size=1 << 20, stream_window=1 << 21, connection_window=1 << 21)
    )
    stream_id = pair.open()
    pair.log.take()
    body = bytes(range(256)) * 4096  # 1 MiB in one DATA frame
    data = raw(DATA, END_STREAM, stream_id, body) + raw(PING, 0, 0, b"after it")
    for offset in range(0, len(data), 4000):
        pair.server.receive_data(data[offset : offset + 4000])
    assert pair.log.take() == [
        ("data", stream_id, body, len(body)),
        ("ended", stream_id),
        ("ping", b"after it"),
    ]


def test_client_settings_are_acknowledged_and_applied() -> None:
    pair = Pair()
    stream_id = pair.request()
    pair.client.increment_flow_control_window(10**6)  # only the stream window matters here
    before = pair.server.local_flow_control_window(stream_id)
    pair.client.update_settings(
        {
            h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 100_000,
            h2.settings.SettingCodes.MAX_FRAME_SIZE: 32_768,
            0x99: 5,  # unknown: ignored
        }
    )
    events = exchange_bytes(pair.client, pair.server)
    assert any(isinstance(e, h2.events.SettingsAcknowledged) for e in events)
    (settings,) = [e for e in pair.log.take() if e[0] == "settings"]
    assert settings[1] == {4: 100_000, 5: 32_768, 0x99: 5}
    # The open stream's send window moved by the difference (RFC 9113 §6.9.2).
    assert pair.server.local_flow_control_window(stream_id) == before + 100_000 - 65_535
    assert pair.server.max_outbound_frame_size == 32_768


@pytest.mark.parametrize(
    ("setting", "value", "code"),
    [
        (0x4, 2**31, FLOW_CONTROL_ERROR),
        (0x5, 16_383, PROTOCOL_ERROR),
        (0x5, 2**24, PROTOCOL_ERROR),
        (0x2, 2, PROTOCOL_ERROR),
        (0x8, 2, PROTOCOL_ERROR),
    ],
)
def test_invalid_client_settings_are_connection_errors(setting: int, value: int, code: int) -> None:
    pair = Pair()
    assert pair.connection_error(raw(SETTINGS, 0, 0, struct.pack(">HL", setting, value))) == code


def test_a_window_shift_that_overflows_a_stream_window_is_a_flow_control_error() -> None:
    pair = Pair()
    stream_id = pair.request()
    pair.feed(raw(WINDOW_UPDATE, 0, stream_id, (2**31 - 1 - 65_535).to_bytes(4, "big")))
    assert pair.server.local_flow_control_window(stream_id) == 65_535  # the connection's
    frame = raw(SETTINGS, 0, 0, struct.pack(">HL", 0x4, 65_536))
    assert pair.connection_error(frame) == FLOW_CONTROL_ERROR


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (raw(SETTINGS, 0, 0, b"\x00\x04\x00"), FRAME_SIZE_ERROR),
        (raw(SETTINGS, ACK, 0, b"\x00\x04\x00\x00\x00\x01"), FRAME_SIZE_ERROR),
        (raw(SETTINGS, 0, 1, b""), PROTOCOL_ERROR),
        (raw(PING, 0, 0, b"1234567"), FRAME_SIZE_ERROR),
        (raw(PING, 0, 1, b"12345678"), PROTOCOL_ERROR),
        (raw(WINDOW_UPDATE, 0, 0, b"\x00\x01"), FRAME_SIZE_ERROR),
        (raw(RST_STREAM, 0, 1, b"\x00"), FRAME_SIZE_ERROR),
        (raw(RST_STREAM, 0, 0, b"\x00\x00\x00\x00"), PROTOCOL_ERROR),
        (raw(PRIORITY, 0, 1, b"\x00\x00\x00\x00"), FRAME_SIZE_ERROR),
        (raw(PRIORITY, 0, 0, b"\x00\x00\x00\x03\x10"), PROTOCOL_ERROR),
        (raw(GOAWAY, 0, 0, b"\x00\x00\x00\x00"), FRAME_SIZE_ERROR),
        (raw(GOAWAY, 0, 1, b"\x00" * 8), PROTOCOL_ERROR),
        (raw(DATA, 0, 0, b"x"), PROTOCOL_ERROR),
        (raw(HEADERS, END_HEADERS, 0, b"\x82"), PROTOCOL_ERROR),
        (raw(PUSH_PROMISE, END_HEADERS, 1, b"\x00\x00\x00\x02\x82"), PROTOCOL_ERROR),
        (raw(CONTINUATION, END_HEADERS, 1, b"\x82"), PROTOCOL_ERROR),
    ],
    ids=[
        "settings-length",
        "settings-ack-payload",
        "settings-on-stream",
        "ping-length",
        "ping-on-stream",
        "window-update-length",
        "rst-length",
        "rst-on-stream-0",
        "priority-length",
        "priority-on-stream-0",
        "goaway-length",
        "goaway-on-stream",
        "data-on-stream-0",
        "headers-on-stream-0",
        "push-promise",
        "naked-continuation",
    ],
)
def test_malformed_frames_are_connection_errors(frame: bytes, code: int) -> None:
    assert Pair().connection_error(frame) == code


def test_a_frame_over_our_max_frame_size_is_refused_from_the_first_frame() -> None:
    pair = Pair(H2Settings(max_frame_size=20_000))
    assert pair.server.max_inbound_frame_size == 20_000
    stream_id = pair.open()
    pair.client.send_data(stream_id, b"x" * 16_384)
    exchange_bytes(pair.client, pair.server)  # 16 KiB: fine
    pair.log.take()
    assert pair.connection_error(raw(DATA, 0, stream_id, b"y" * 20_001)) == FRAME_SIZE_ERROR


def test_unknown_frame_types_are_ignored() -> None:
    pair = Pair()
    assert pair.feed(raw(0x42, 0xFF, 7, b"whatever")) == []
    assert pair.log.take() == []


def test_update_settings_apply_when_acknowledged() -> None:
    pair = Pair(H2Settings(stream_window=100))
    stream_id = pair.open()
    pair.log.take()
    pair.server.update_settings({0x4: 1000})
    pair.server.data_to_send()
    # The client sends 500 bytes before it has seen our new value: too much for 100.
    assert pair.connection_error(raw(DATA, 0, stream_id, b"x" * 500)) == FLOW_CONTROL_ERROR
    pair = Pair(H2Settings(stream_window=100))
    stream_id = pair.open()
    pair.log.take()
    pair.server.update_settings({0x4: 1000})
    settings_frame = pair.server.data_to_send()
    pair.client.receive_data(settings_frame)
    exchange_bytes(pair.client, pair.server)  # the ACK: the new window is in force
    pair.feed(raw(DATA, 0, stream_id, b"x" * 500))
    assert [e[0] for e in pair.log.take()] == ["data"]


def test_a_stream_window_below_the_default_waits_for_the_ack() -> None:
    # RFC 9113 3.4 and 6.9.3: a client may send its first flight before it reads our
    # SETTINGS, with the default 65535 window; a lower one binds it after its ACK.
    log = EventLog()
    server = new_connection(H2Settings(stream_window=16_384), log)
    server.data_to_send()
    client = h2_client()  # only its encoder: the frames are written by hand
    post = raw(HEADERS, END_HEADERS, 1, client.encoder.encode(POST))
    early = raw(DATA, 0, 1, b"x" * 16_384) * 2  # twice the window we announced
    server.receive_data(PREFACE + raw(SETTINGS, 0, 0) + post + early)
    assert [e[0] for e in log.take()] == ["settings", "request", "data", "data"]
    server.receive_data(raw(SETTINGS, ACK, 0))  # now 16 KiB, for new streams too
    server.receive_data(raw(HEADERS, END_HEADERS, 3, client.encoder.encode(POST)))
    log.take()
    server.receive_data(raw(DATA, 0, 3, b"x" * 16_384))
    with pytest.raises(ProtocolError) as info:
        server.receive_data(raw(DATA, 0, 3, b"x"))
    assert info.value.error_code == FLOW_CONTROL_ERROR


# -- requests --------------------------------------------------------------------------------
def test_a_get_is_one_request_event_with_its_head() -> None:
    pair = Pair()
    stream_id = pair.request([*GET, (b"user-agent", b"t"), (b"cookie", b"a=1")])
    ((kind, event_stream, head, ended),) = pair.log.take()
    assert (kind, event_stream, ended) == ("request", stream_id, True)
    assert head.method == "GET"
    assert head.raw_path == b"/a"
    assert head.query_string == b"b=1"
    assert head.authority == "x"
    # No host is made up from :authority: adapters present the authority themselves.
    assert head.headers == [(b"user-agent", b"t"), (b"cookie", b"a=1")]


def test_a_response_reaches_the_client() -> None:
    pair = Pair()
    stream_id = pair.request()
    pair.server.send_headers(stream_id, RESPONSE)
    pair.server.send_data(stream_id, b"hello", end_stream=True)
    events = exchange_bytes(pair.client, pair.server)
    response = next(e for e in events if isinstance(e, h2.events.ResponseReceived))
    assert response.headers == RESPONSE
    assert b"".join(e.data for e in events if isinstance(e, h2.events.DataReceived)) == b"hello"
    assert any(isinstance(e, h2.events.StreamEnded) for e in events)
    assert stream_id not in pair.server.streams  # both sides ended: closed
    with pytest.raises(StreamClosedError):
        pair.server.send_data(stream_id, b"more")


def test_a_large_head_is_split_into_continuation_frames() -> None:
    pair = Pair()
    stream_id = pair.request()
    big = [(b":status", b"200"), *[(b"x-h%d" % i, b"v" * 1000) for i in range(40)]]
    pair.server.send_headers(stream_id, big, end_stream=True)
    out = pair.server.data_to_send()
    assert [f[0] for f in parse_frames(out)] == [HEADERS, CONTINUATION, CONTINUATION]
    events = pair.client.receive_data(out)
    response = next(e for e in events if isinstance(e, h2.events.ResponseReceived))
    assert response.headers == big


def test_request_body_then_end_and_trailers() -> None:
    pair = Pair()
    stream_id = int(pair.client.get_next_available_stream_id())
    pair.client.send_headers(stream_id, [*POST, (b"te", b"trailers")])
    pair.client.send_data(stream_id, b"abc")
    pair.client.send_headers(stream_id, [(b"x-sum", b"1")], end_stream=True)
    exchange_bytes(pair.client, pair.server)
    events = pair.log.take()
    assert [e[0] for e in events] == ["request", "data", "trailers", "ended"]
    assert events[0][3] is False
    assert events[1][1:] == (stream_id, b"abc", 3)
    assert events[2][2] == [(b"x-sum", b"1")]


def test_padding_counts_against_flow_control_and_is_stripped() -> None:
    pair = Pair()
    stream_id = pair.open()
    pair.log.take()
    padded = bytes([10]) + b"body" + b"\x00" * 10
    pair.feed(raw(DATA, PADDED | END_STREAM, stream_id, padded))
    assert pair.log.take() == [("data", stream_id, b"body", 15), ("ended", stream_id)]
    headers = bytes([3]) + pair.client.encoder.encode(GET) + b"\x00\x00\x00"
    pair.feed(raw(HEADERS, PADDED | END_HEADERS | END_STREAM, stream_id + 2, headers))
    assert [e[0] for e in pair.log.take()] == ["request"]


@pytest.mark.parametrize("kind", [DATA, HEADERS])
def test_padding_longer_than_the_payload_is_a_protocol_error(kind: int) -> None:
    pair = Pair()
    stream_id = pair.open()
    target = stream_id if kind == DATA else stream_id + 2
    assert pair.connection_error(raw(kind, PADDED, target, bytes([5]) + b"abcd")) == PROTOCOL_ERROR


def test_priority_is_ignored_but_a_self_dependency_resets_the_stream() -> None:
    pair = Pair()
    stream_id = pair.open()
    pair.log.take()
    assert pair.feed(raw(PRIORITY, 0, stream_id, b"\x00\x00\x00\x00\x10")) == []
    assert pair.feed(raw(PRIORITY, 0, 99, b"\x00\x00\x00\x01\x10")) == []  # idle: allowed
    assert pair.stream_error(raw(PRIORITY, 0, stream_id, struct.pack(">LB", stream_id, 1))) == (
        stream_id,
        PROTOCOL_ERROR,
    )
    assert pair.log.take() == [("reset", stream_id, PROTOCOL_ERROR, False)]
    # HEADERS with a priority block: parsed past; self-dependency is a stream error too.
    block = pair.client.encoder.encode(GET)
    new = stream_id + 2
    pair.feed(raw(HEADERS, END_HEADERS | END_STREAM | PRIORITY_FLAG, new, b"\0\0\0\1\5" + block))
    assert [e[0] for e in pair.log.take()] == ["request"]
    block = pair.client.encoder.encode(GET)
    selfish = struct.pack(">LB", new + 2, 5) + block
    assert pair.stream_error(raw(HEADERS, END_HEADERS | PRIORITY_FLAG, new + 2, selfish)) == (
        new + 2,
        PROTOCOL_ERROR,
    )


# -- header blocks -----------------------------------------------------------------------------
def test_a_content_length_of_thousands_of_digits_resets_only_its_stream() -> None:
    # int() raises ValueError past 4,300 digits: it once escaped receive_data.
    pair = Pair()
    stream_id = int(pair.client.get_next_available_stream_id())
    huge = [*POST, (b"content-length", b"1" * 4301)]
    assert pair.stream_error(pair.headers_frame(stream_id, huge)) == (stream_id, PROTOCOL_ERROR)
    assert pair.log.take() == [("reset", stream_id, PROTOCOL_ERROR, False)]
    pair.feed(pair.headers_frame(stream_id + 2, GET, END_HEADERS | END_STREAM))
    assert [e[0] for e in pair.log.take()] == ["request"]


def test_headers_and_continuations_are_assembled() -> None:
    pair = Pair()
    block = pair.client.encoder.encode([*GET, (b"x-long", b"z" * 300)])
    frames = raw(HEADERS, END_STREAM, 1, block[:10])
    frames += raw(CONTINUATION, 0, 1, block[10:20]) + raw(CONTINUATION, END_HEADERS, 1, block[20:])
    pair.feed(frames)
    ((kind, _, head, ended),) = pair.log.take()
    assert (kind, ended) == ("request", True)
    assert (b"x-long", b"z" * 300) in head.headers


@pytest.mark.parametrize(
    "interruption",
    [raw(CONTINUATION, END_HEADERS, 3, b"\x82"), raw(PING, 0, 0, b"12345678")],
    ids=["other-stream", "other-frame"],
)
def test_a_header_block_must_not_be_interrupted(interruption: bytes) -> None:
    pair = Pair()
    block = pair.client.encoder.encode(GET)
    start = raw(HEADERS, END_STREAM, 1, block[:2])
    assert pair.connection_error(start + interruption) == PROTOCOL_ERROR


def test_a_continuation_flood_is_bounded() -> None:
    # The bound: what the header list limit needs in 16 KiB frames, plus 64.
    settings = H2Settings(max_header_list_size=160 * 1024)
    allowed = max_continuations(settings.max_header_list_size)
    assert allowed == 64 + 10
    pair = Pair(settings)
    block = pair.client.encoder.encode(GET)
    within = raw(HEADERS, 0, 1, block) + raw(CONTINUATION, 0, 1) * (allowed - 1)
    pair.feed(within + raw(CONTINUATION, END_HEADERS, 1))
    assert [event[:2] for event in pair.log.take()] == [("request", 1)]
    flood = raw(HEADERS, 0, 3, block) + raw(CONTINUATION, 0, 3) * (allowed + 1)
    assert pair.connection_error(flood) == PROTOCOL_ERROR


def test_a_header_block_larger_than_the_header_list_limit_is_refused() -> None:
    pair = Pair(H2Settings(max_header_list_size=1000))
    block = pair.client.encoder.encode(GET)
    frames = raw(HEADERS, 0, 1, block) + raw(CONTINUATION, 0, 1, b"\x00" * 16_384) * 2
    assert pair.connection_error(frames) == ENHANCE_YOUR_CALM


def test_an_undecodable_block_is_a_compression_error() -> None:
    pair = Pair()
    assert pair.connection_error(raw(HEADERS, END_HEADERS, 1, b"\xff\xff\xff\xff")) == (
        COMPRESSION_ERROR
    )


def test_a_header_list_over_the_limit_is_a_431_on_that_stream_only() -> None:
    pair = Pair(H2Settings(max_header_list_size=500))
    big = [*GET, (b"x-big", b"b" * 600)]
    frames = pair.feed(pair.headers_frame(1, big, END_HEADERS | END_STREAM))
    assert [(kind, flags & END_STREAM, stream) for kind, flags, stream, _ in frames] == [
        (HEADERS, END_STREAM, 1)
    ]
    assert hpack.Decoder().decode(frames[0][3]) == [(":status", "431")]
    assert pair.log.take() == []  # the handler (the app) never hears of it
    # The block was decoded all the same: the next request reads right.
    assert pair.feed(pair.headers_frame(3, GET, END_HEADERS | END_STREAM)) == []
    assert [event[:2] for event in pair.log.take()] == [("request", 3)]


def test_an_oversized_request_still_sending_its_body_is_asked_to_stop() -> None:
    pair = Pair(H2Settings(max_header_list_size=500))
    big = [*POST, (b"x-big", b"b" * 600)]
    frames = pair.feed(pair.headers_frame(1, big, END_HEADERS))
    assert [(kind, stream) for kind, _, stream, _ in frames] == [(HEADERS, 1), (RST_STREAM, 1)]
    assert int.from_bytes(frames[1][3], "big") == NO_ERROR  # RFC 9113 §8.1
    # What it still sends is dropped (and counted for the connection window), no error.
    assert pair.feed(raw(DATA, END_STREAM, 1, b"body")) == []
    assert pair.log.take() == [("discarded", 4)]


def test_oversized_trailers_reset_their_stream_only() -> None:
    pair = Pair(H2Settings(max_header_list_size=500))
    stream_id = pair.open()
    trailers = pair.headers_frame(stream_id, [(b"x-big", b"b" * 600)], END_HEADERS | END_STREAM)
    assert pair.stream_error(trailers) == (stream_id, ENHANCE_YOUR_CALM)


# -- stream ids and states ---------------------------------------------------------------------
def test_stream_ids_must_be_odd_and_increasing() -> None:
    pair = Pair()
    assert pair.connection_error(pair.headers_frame(2, GET, END_HEADERS | END_STREAM)) == (
        PROTOCOL_ERROR
    )
    pair = Pair()
    pair.request()
    pair.request()  # streams 1 and 3, both closed once answered... still open here
    pair.server.send_headers(1, RESPONSE, end_stream=True)
    pair.server.data_to_send()
    frame = pair.headers_frame(1, GET, END_HEADERS | END_STREAM)
    assert pair.connection_error(frame) == STREAM_CLOSED  # 1 was closed by END_STREAM
    pair = Pair()
    pair.feed(pair.headers_frame(5, GET, END_HEADERS | END_STREAM))
    frame = pair.headers_frame(3, GET, END_HEADERS | END_STREAM)  # skipped: implicitly closed
    assert pair.connection_error(frame) == PROTOCOL_ERROR


def test_max_concurrent_streams_is_enforced_from_the_first_frame() -> None:
    pair = Pair(H2Settings(max_concurrent_streams=2))
    pair.feed(pair.headers_frame(1, GET, END_HEADERS | END_STREAM))
    pair.feed(pair.headers_frame(3, GET, END_HEADERS | END_STREAM))
    # A stream error (RFC 9113 §5.1.2): refused, the client may retry; the others go on.
    assert pair.stream_error(pair.headers_frame(5, GET, END_HEADERS | END_STREAM)) == (
        5,
        REFUSED_STREAM,
    )
    assert [e[0] for e in pair.log.take()] == ["request", "request", "reset"]
    pair.server.send_headers(1, RESPONSE, end_stream=True)
    pair.feed(pair.headers_frame(7, GET, END_HEADERS | END_STREAM))  # a slot is free again
    assert [e[0] for e in pair.log.take()] == ["request"]


def test_a_closed_stream_frees_its_concurrency_slot() -> None:
    pair = Pair(H2Settings(max_concurrent_streams=1))
    for stream_id in (1, 3, 5):
        pair.feed(pair.headers_frame(stream_id, GET, END_HEADERS | END_STREAM))
        pair.server.send_headers(stream_id, RESPONSE, end_stream=True)
    assert [e[0] for e in pair.log.take()] == ["request"] * 3


def test_data_on_an_idle_stream_is_a_protocol_error() -> None:
    assert Pair().connection_error(raw(DATA, 0, 9, b"x")) == PROTOCOL_ERROR


@pytest.mark.parametrize("kind", [RST_STREAM, WINDOW_UPDATE])
def test_rst_stream_and_window_update_on_an_idle_stream_are_protocol_errors(kind: int) -> None:
    assert Pair().connection_error(raw(kind, 0, 9, b"\x00\x00\x00\x01")) == PROTOCOL_ERROR


def test_data_after_the_clients_end_stream_is_a_stream_error() -> None:
    pair = Pair()
    stream_id = pair.request()  # END_STREAM on HEADERS: half-closed (remote)
    pair.log.take()
    assert pair.stream_error(raw(DATA, 0, stream_id, b"late")) == (stream_id, STREAM_CLOSED)
    assert pair.log.take() == [("discarded", 4), ("reset", stream_id, STREAM_CLOSED, False)]


def test_frames_after_our_reset_are_ignored_but_credited() -> None:
    pair = Pair()
    stream_id = pair.open()
    pair.server.reset_stream(stream_id, REFUSED_STREAM)
    assert parse_frames(pair.server.data_to_send()) == [
        (RST_STREAM, 0, stream_id, REFUSED_STREAM.to_bytes(4, "big"))
    ]
    pair.log.take()
    late = raw(DATA, 0, stream_id, b"in flight") + raw(WINDOW_UPDATE, 0, stream_id, b"\0\0\0\1")
    late += pair.headers_frame(stream_id, [(b"x-t", b"1")], END_HEADERS | END_STREAM)
    late += raw(RST_STREAM, 0, stream_id, b"\0\0\0\x08")
    assert pair.feed(late) == []
    assert pair.log.take() == [("discarded", 9)]
    with pytest.raises(StreamClosedError):
        pair.server.reset_stream(stream_id, 0)


def test_frames_after_the_clients_reset_are_stream_errors() -> None:
    pair = Pair()
    stream_id = pair.open()
    pair.client.reset_stream(stream_id, 8)
    exchange_bytes(pair.client, pair.server)
    assert pair.log.take()[-1] == ("reset", stream_id, 8, True)
    assert pair.feed(raw(WINDOW_UPDATE, 0, stream_id, b"\0\0\0\1")) == []
    assert pair.stream_error(raw(DATA, 0, stream_id, b"x")) == (stream_id, STREAM_CLOSED)
    with pytest.raises(StreamClosedError):
        pair.server.send_headers(stream_id, RESPONSE)


def test_data_on_a_stream_closed_by_end_stream_is_a_connection_error() -> None:
    pair = Pair()
    stream_id = pair.request()
    pair.server.send_headers(stream_id, RESPONSE, end_stream=True)
    pair.server.data_to_send()
    assert pair.feed(raw(WINDOW_UPDATE, 0, stream_id, b"\0\0\0\1")) == []  # tolerated
    assert pair.feed(raw(RST_STREAM, 0, stream_id, b"\0\0\0\0")) == []
    assert pair.connection_error(raw(DATA, 0, stream_id, b"x")) == STREAM_CLOSED


def test_trailers_need_end_stream_and_no_pseudo_headers() -> None:
    pair = Pair()
    stream_id = pair.open()
    frame = pair.headers_frame(stream_id, [(b"x-t", b"1")], END_HEADERS)
    assert pair.stream_error(frame) == (stream_id, PROTOCOL_ERROR)
    stream_id = pair.open()
    frame = pair.headers_frame(stream_id, [(b":path", b"/")], END_HEADERS | END_STREAM)
    assert pair.stream_error(frame) == (stream_id, PROTOCOL_ERROR)
    # And the connection goes on.
    assert pair.request() == stream_id + 2


# -- request validation ---------------------------------------------------------------------------
MALFORMED = {
    "uppercase-name": [*GET, (b"X-Up", b"1")],
    "space-in-name": [*GET, (b"x up", b"1")],
    "colon-in-name": [*GET, (b"x:up", b"1")],
    "empty-name": [*GET, (b"", b"1")],
    "nul-in-value": [*GET, (b"x", b"a\x00b")],
    "cr-in-value": [*GET, (b"x", b"a\rb")],
    "lf-in-value": [*GET, (b"x", b"a\nb")],
    "leading-space": [*GET, (b"x", b" a")],
    "trailing-tab": [*GET, (b"x", b"a\t")],
    "pseudo-after-regular": [*GET[:3], (b"x", b"1"), GET[3]],
    "duplicate-pseudo": [*GET, (b":path", b"/b")][:4] + [(b":method", b"GET")],
    "unknown-pseudo": [*GET, (b":foo", b"1")],
    "status-in-request": [*GET, (b":status", b"200")],
    "missing-method": GET[1:],
    "missing-scheme": [GET[0], *GET[2:]],
    "missing-path": [*GET[:2], GET[3]],
    "empty-path": [*GET[:2], (b":path", b""), GET[3]],
    "connect-with-path": [(b":method", b"CONNECT"), (b":path", b"/"), GET[3]],
    "connect-without-authority": [(b":method", b"CONNECT")],
    "protocol-without-connect": [*GET, (b":protocol", b"websocket")],
    "extended-connect-without-authority": [
        (b":method", b"CONNECT"),
        (b":protocol", b"websocket"),
        (b":scheme", b"http"),
        (b":path", b"/"),
    ],
    "connection-header": [*GET, (b"connection", b"close")],
    "transfer-encoding": [*GET, (b"transfer-encoding", b"chunked")],
    "upgrade": [*GET, (b"upgrade", b"h2c")],
    "te-not-trailers": [*GET, (b"te", b"gzip")],
    "no-authority-nor-host": GET[:3],
    "host-disagrees": [*GET, (b"host", b"y")],
    "duplicate-host": [*GET[:3], (b"host", b"x"), (b"host", b"x")],
    "content-length-not-digits": [*GET, (b"content-length", b"-1")],
    "content-length-conflict": [*GET, (b"content-length", b"1"), (b"content-length", b"2")],
}


@pytest.mark.parametrize("headers", list(MALFORMED.values()), ids=list(MALFORMED))
def test_a_malformed_request_resets_its_stream_only(headers: list[tuple[bytes, bytes]]) -> None:
    pair = Pair()
    frame = pair.headers_frame(1, headers, END_HEADERS)
    assert pair.stream_error(frame) == (1, PROTOCOL_ERROR)
    assert pair.log.take() == [("reset", 1, PROTOCOL_ERROR, False)]
    pair.feed(pair.headers_frame(3, GET, END_HEADERS | END_STREAM))  # the connection is fine
    assert [e[0] for e in pair.log.take()] == ["request"]


VALID = {
    "connect": [(b":method", b"CONNECT"), (b":authority", b"x:443")],
    "extended-connect": [
        (b":method", b"CONNECT"),
        (b":protocol", b"websocket"),
        (b":scheme", b"http"),
        (b":path", b"/chat"),
        (b":authority", b"x"),
    ],
    "te-trailers": [*GET, (b"te", b"Trailers")],
    "host-only": [*GET[:3], (b"host", b"x")],
    "host-agrees": [*GET, (b"host", b"x")],
    "empty-value": [*GET, (b"x-empty", b"")],
    "inner-space": [*GET, (b"x", b"a b")],
    "odd-token-chars": [*GET, (b"x-a!#$%&'*+.^_`|~", b"1")],
}


@pytest.mark.parametrize("headers", list(VALID.values()), ids=list(VALID))
def test_valid_requests_are_accepted(headers: list[tuple[bytes, bytes]]) -> None:
    pair = Pair()
    assert pair.feed(pair.headers_frame(1, headers, END_HEADERS)) == []
    assert [e[0] for e in pair.log.take()] == ["request"]


def test_extended_connect_carries_its_protocol() -> None:
    pair = Pair()
    pair.feed(pair.headers_frame(1, VALID["extended-connect"], END_HEADERS))
    ((_, _, head, ended),) = pair.log.take()
    assert (head.method, head.protocol, head.raw_path) == ("CONNECT", "websocket", b"/chat")
    assert ended is False


def test_split_cookies_are_joined() -> None:
    pair = Pair()
    pair.request([*GET, (b"cookie", b"a=1"), (b"x", b"y"), (b"cookie", b"b=2")])
    ((_, _, head, _),) = pair.log.take()
    assert head.headers == [(b"x", b"y"), (b"cookie", b"a=1; b=2")]


@pytest.mark.parametrize(
    ("declared", "sent", "end_on_headers"),
    [(b"5", b"123456", False), (b"5", b"1234", False), (b"3", b"", True)],
    ids=["more", "less", "none"],
)
def test_a_body_that_disagrees_with_content_length_is_a_stream_error(
    declared: bytes, sent: bytes, end_on_headers: bool
) -> None:
    pair = Pair()
    headers = [*POST, (b"content-length", declared)]
    flags = END_HEADERS | (END_STREAM if end_on_headers else 0)
    frames = pair.headers_frame(1, headers, flags)
    if not end_on_headers:
        frames += raw(DATA, END_STREAM, 1, sent)
    assert pair.stream_error(frames) == (1, PROTOCOL_ERROR)


def test_a_body_that_matches_content_length_is_delivered() -> None:
    pair = Pair()
    headers = [*POST, (b"content-length", b"5")]
    pair.request(headers, b"12345")
    events = pair.log.take()
    assert [e[0] for e in events] == ["request", "data", "ended"]
    assert events[0][2].content_length == 5


# -- flow control ------------------------------------------------------------------------------
def test_data_beyond_the_stream_window_is_a_flow_control_error() -> None:
    pair = Pair(H2Settings(stream_window=1000, connection_window=10**6))
    stream_id = pair.open()
    pair.feed(raw(DATA, 0, stream_id, b"x" * 1000))
    assert pair.connection_error(raw(DATA, 0, stream_id, b"x")) == FLOW_CONTROL_ERROR


def test_data_beyond_the_connection_window_is_a_flow_control_error() -> None:
    pair = Pair(H2Settings(stream_window=10**6, connection_window=65_535))
    stream_id = pair.open()
    for _ in range(3):
        pair.feed(raw(DATA, 0, stream_id, b"x" * 16_384))
    pair.feed(raw(DATA, 0, stream_id, b"x" * (65_535 - 3 * 16_384)))
    assert pair.connection_error(raw(DATA, 0, stream_id, b"x")) == FLOW_CONTROL_ERROR


def test_window_credit_lets_the_client_send_more() -> None:
    pair = Pair(H2Settings(stream_window=1000, connection_window=65_535))
    stream_id = pair.open()
    pair.feed(raw(DATA, 0, stream_id, b"x" * 1000))
    pair.server.increment_flow_control_window(500, stream_id)
    pair.server.increment_flow_control_window(500)
    assert [f[0] for f in parse_frames(pair.server.data_to_send())] == [WINDOW_UPDATE] * 2
    pair.feed(raw(DATA, 0, stream_id, b"x" * 500))
    assert [e[0] for e in pair.log.take()] == ["request", "data", "data"]


def test_send_windows_follow_window_updates() -> None:
    pair = Pair()
    stream_id = pair.request()
    assert pair.server.local_flow_control_window(stream_id) == 65_535
    pair.server.send_headers(stream_id, RESPONSE)
    for _ in range(4):
        pair.server.send_data(stream_id, b"d" * 16_000)
    assert pair.server.local_flow_control_window(stream_id) == 1535
    with pytest.raises(ValueError, match="window"):
        pair.server.send_data(stream_id, b"d" * 1536)
    pair.log.take()
    pair.feed(raw(WINDOW_UPDATE, 0, stream_id, (10_000).to_bytes(4, "big")))
    assert pair.server.local_flow_control_window(stream_id) == 1535  # the connection's
    pair.feed(raw(WINDOW_UPDATE, 0, 0, (20_000).to_bytes(4, "big")))
    assert pair.server.local_flow_control_window(stream_id) == 11_535
    assert pair.log.take() == [("window", stream_id), ("window", 0)]


def test_window_update_of_zero_and_overflow() -> None:
    pair = Pair()
    stream_id = pair.request()
    assert pair.stream_error(raw(WINDOW_UPDATE, 0, stream_id, b"\0\0\0\0")) == (
        stream_id,
        PROTOCOL_ERROR,
    )
    stream_id = pair.request()
    frame = raw(WINDOW_UPDATE, 0, stream_id, (2**31 - 1).to_bytes(4, "big"))
    assert pair.stream_error(frame) == (stream_id, FLOW_CONTROL_ERROR)
    assert pair.connection_error(raw(WINDOW_UPDATE, 0, 0, b"\0\0\0\0")) == PROTOCOL_ERROR
    pair = Pair()
    frame = raw(WINDOW_UPDATE, 0, 0, (2**31 - 1).to_bytes(4, "big"))
    assert pair.connection_error(frame) == FLOW_CONTROL_ERROR


def test_a_smaller_max_frame_size_is_respected_by_send_data() -> None:
    pair = Pair()
    stream_id = pair.request()
    pair.server.send_headers(stream_id, RESPONSE)
    with pytest.raises(ValueError, match="frame size"):
        pair.server.send_data(stream_id, b"d" * 16_385)


# -- control frames ----------------------------------------------------------------------------
def test_ping_is_acknowledged_and_our_pings_report_their_ack() -> None:
    pair = Pair()
    assert pair.feed(raw(PING, 0, 0, b"abcdefgh")) == [(PING, ACK, 0, b"abcdefgh")]
    pair.server.ping(b"12345678")
    events = exchange_bytes(pair.client, pair.server)
    assert any(isinstance(e, h2.events.PingReceived) for e in events)
    assert pair.log.take() == [("ping", b"abcdefgh"), ("ping_ack", b"12345678")]


def test_close_connection_sends_goaway_with_the_last_stream() -> None:
    pair = Pair()
    stream_id = pair.request()
    pair.server.close_connection(ENHANCE_YOUR_CALM)
    assert goaway_of(pair.server.data_to_send()) == (stream_id, ENHANCE_YOUR_CALM)
    pair.log.take()
    pair.server.receive_data(pair.headers_frame(3, GET, END_HEADERS))
    assert pair.log.take() == []


def test_reset_stream_closes_both_sides() -> None:
    pair = Pair()
    stream_id = pair.open()
    pair.server.reset_stream(stream_id, 0)
    assert stream_id not in pair.server.streams
    with pytest.raises(StreamClosedError):
        pair.server.send_headers(stream_id, RESPONSE)
    with pytest.raises(StreamClosedError):
        pair.server.local_flow_control_window(stream_id)
    with pytest.raises(StreamClosedError):
        pair.server.increment_flow_control_window(10, stream_id)


# -- review: conformance gaps (RFC 9113 / RFC 7541) ----------------------------------------------
def test_a_preface_that_cannot_become_the_preface_fails_before_24_bytes() -> None:
    server = new_connection(H2Settings(), EventLog())
    server.data_to_send()
    server.receive_data(PREFACE[:10])  # a prefix: wait for more
    assert not server.data_to_send()
    server = new_connection(H2Settings(), EventLog())
    server.data_to_send()
    with pytest.raises(ProtocolError):
        server.receive_data(b"GET / HTTP/1.1\r\n")  # 16 bytes: not a prefix
    assert goaway_of(server.data_to_send()) == (0, PROTOCOL_ERROR)


def test_headers_too_short_for_their_priority_after_padding_is_a_frame_size_error() -> None:
    # RFC 9113 §4.2: too small for mandatory fields (the 5 priority bytes) → FRAME_SIZE_ERROR;
    # PROTOCOL_ERROR is for a Pad Length >= the payload (§6.2).
    pair = Pair()
    frame = raw(HEADERS, END_HEADERS | PADDED | PRIORITY_FLAG, 1, b"\x00\x00\x00\x00")
    assert pair.connection_error(frame) == FRAME_SIZE_ERROR
    pair = Pair()
    frame = raw(HEADERS, END_HEADERS | PADDED | PRIORITY_FLAG, 1, b"\x04\x00\x00\x00")
    assert pair.connection_error(frame) == PROTOCOL_ERROR


def test_a_self_dependent_priority_on_an_idle_stream_is_a_connection_error() -> None:
    # A stream error would need RST_STREAM on an idle stream, which RFC 9113 §6.4 forbids
    # (the client would fail the connection): the error is raised to the connection.
    pair = Pair()
    assert pair.connection_error(raw(PRIORITY, 0, 9, struct.pack(">LB", 9, 1))) == PROTOCOL_ERROR


def test_a_self_dependent_priority_on_a_closed_stream_is_a_connection_error() -> None:
    # Nor may RST_STREAM be sent on a closed stream (RFC 9113 §5.1): same escalation.
    pair = Pair()
    stream_id = pair.request()
    pair.server.send_headers(stream_id, RESPONSE, end_stream=True)
    pair.server.data_to_send()
    frame = raw(PRIORITY, 0, stream_id, struct.pack(">LB", stream_id, 1))
    assert pair.connection_error(frame) == PROTOCOL_ERROR


def test_a_graceful_client_goaway_lets_open_streams_finish() -> None:
    # RFC 9113 §6.8: GOAWAY stops new streams "while still finishing processing of previously
    # established streams" (Go's ClientConn.Shutdown sends GOAWAY(NO_ERROR), then waits).
    pair = Pair()
    stream_id = pair.open()
    pair.log.take()
    goaway = raw(GOAWAY, 0, 0, struct.pack(">LL", 0, NO_ERROR))
    frames = pair.feed(goaway + raw(DATA, END_STREAM, stream_id, b"body"))
    assert frames == []
    assert pair.log.take() == [
        ("terminated", NO_ERROR, 0),
        ("data", stream_id, b"body", 4),
        ("ended", stream_id),
    ]
    pair.server.send_headers(stream_id, RESPONSE)
    pair.server.send_data(stream_id, b"hello", end_stream=True)
    kinds = [f[0] for f in parse_frames(pair.server.data_to_send())]
    assert kinds == [HEADERS, DATA]


def test_a_client_goaway_with_an_error_stops_processing() -> None:
    pair = Pair()
    stream_id = pair.open()
    pair.log.take()
    goaway = raw(GOAWAY, 0, 0, struct.pack(">LL", 0, PROTOCOL_ERROR))
    late = raw(DATA, END_STREAM, stream_id, b"body")
    late += pair.headers_frame(stream_id + 2, GET, END_HEADERS | END_STREAM)
    assert pair.feed(goaway + late) == []
    assert pair.log.take() == [("terminated", PROTOCOL_ERROR, 0)]


def test_long_unique_fields_are_not_kept_by_the_validation_caches() -> None:
    # The caches are process-wide: a client sending long unique names or values must not
    # make them hold its bytes (4096 cached fields of 100 KB would be 400 MB).
    from granian_core.http2 import headers as validation

    pair = Pair(H2Settings(max_frame_size=1 << 20))
    for index in range(40):
        fields = [*GET, (b"x-big", b"%d-" % index + b"v" * 100_000)]
        fields.append((b"x-%d-" % index + b"n" * 5000, b"1"))
        block = pair.client.encoder.encode(fields, huffman=False)
        pair.feed(raw(HEADERS, END_HEADERS | END_STREAM, 2 * index + 1, block))
    assert [e[0] for e in pair.log.take()] == ["request"] * 40
    cached = sum(len(n) + len(v) for n, v in validation._FIELD_KINDS)
    cached += sum(len(n) for n in validation._NAME_KINDS)
    assert cached < 1_000_000


# -- random differential: h2's client doing legal things, the server never objecting -----------
class _Request:
    """What the client sent on one stream, and what the server reported of it."""

    def __init__(
        self, fields: list[tuple[bytes, bytes]], body: list[bytes], trailers: bool
    ) -> None:
        self.fields = fields
        self.chunks = body  # still to send
        self.sent = b""
        self.trailers = [(b"x-checksum", b"%d" % sum(map(len, body)))] if trailers else None
        self.client_open = True  # the client may still send on it
        self.reset_by_client = False
        self.reset_by_server = False
        self.heads: list[RequestHead] = []
        self.received = b""
        self.reported_trailers: list[tuple[bytes, bytes]] | None = None
        self.ended = 0
        self.resets: list[tuple[int, bool]] = []
        self.response_left = -1  # body bytes of our response still to send; -1: no head yet


def _random_fields(rng: Any, body_size: int | None) -> list[tuple[bytes, bytes]]:
    method = b"GET" if body_size is None else rng.choice([b"POST", b"PUT", b"PATCH"])
    path = rng.choice([b"/", b"/a/b", b"/q?x=1&y=%d" % rng.randrange(1000), b"/%d" % rng.random()])
    fields = [(b":method", method), (b":scheme", b"https"), (b":path", path)]
    fields.append((b":authority", rng.choice([b"example.com", b"x:8443"])))
    pool = [
        (b"user-agent", b"fuzz/%d" % rng.randrange(3)),
        (b"accept", b"*/*"),
        (b"cookie", b"session=%d" % rng.randrange(5)),
        (b"x-rand", bytes(rng.choice(b"abcdefghij-_ ") for _ in range(rng.randrange(1, 60)))),
        (b"x-long", b"v" * rng.randrange(1, 5000)),
        (b"te", b"trailers"),
    ]
    fields += [field for field in pool if rng.random() < 0.5 and field[1].strip() == field[1]]
    if body_size is not None and rng.random() < 0.5:
        fields.append((b"content-length", b"%d" % body_size))
    return fields


class _Fuzz:
    """One seeded run: a Pair, the requests, and the legal moves on either side."""

    def __init__(self, seed: int) -> None:
        import random

        self.rng = rng = random.Random(seed)
        settings = H2Settings(
            max_concurrent_streams=rng.choice([3, 10, 100]),
            stream_window=rng.choice([100, 5000, 65_535, 1 << 20]),
            connection_window=rng.choice([65_535, 1 << 20]),
            max_frame_size=rng.choice([16_384, 1 << 18]),
        )
        self.pair = Pair(settings)
        self.requests: dict[int, _Request] = {}
        self.pings = 0
        self.finishing = False  # no more resets: every stream completes

    # -- client moves ---------------------------------------------------------------------
    def open_request(self) -> None:
        client, rng = self.pair.client, self.rng
        if client.open_outbound_streams >= client.remote_settings.max_concurrent_streams:
            return
        body = [bytes([rng.randrange(256)]) * rng.randrange(0, 8_000) for _ in range(3)]
        body = body[: rng.randrange(0, 4)]
        has_body = bool(body) or rng.random() < 0.2
        fields = _random_fields(rng, sum(map(len, body)) if has_body else None)
        stream_id = client.get_next_available_stream_id()
        trailers = has_body and rng.random() < 0.3
        client.send_headers(stream_id, fields, end_stream=not has_body)
        request = self.requests[stream_id] = _Request(fields, body, trailers)
        request.client_open = has_body

    def send_body(self) -> None:
        client, rng = self.pair.client, self.rng
        uploading = [s for s, r in self.requests.items() if r.client_open]
        if not uploading:
            return
        stream_id = rng.choice(uploading)
        request = self.requests[stream_id]
        if not request.chunks:
            if request.trailers is not None:
                client.send_headers(stream_id, request.trailers, end_stream=True)
            else:
                client.end_stream(stream_id)
            request.client_open = False
            return
        window = client.local_flow_control_window(stream_id)
        size = min(window, client.max_outbound_frame_size, len(request.chunks[0]))
        if size <= 0 and request.chunks[0]:
            return
        chunk, request.chunks[0] = request.chunks[0][:size], request.chunks[0][size:]
        if not request.chunks[0]:
            request.chunks.pop(0)
        pad = (
            rng.choice([None, 0, 7])
            if size + 8 <= min(window, client.max_outbound_frame_size)
            else None
        )
        client.send_data(stream_id, chunk, pad_length=pad)
        request.sent += chunk

    def reset_by_client(self) -> None:
        open_streams = [s for s, r in self.requests.items() if r.client_open]
        if open_streams:
            stream_id = self.rng.choice(open_streams)
            self.pair.client.reset_stream(stream_id, self.rng.choice([0x8, 0x0, 0x2]))
            self.requests[stream_id].client_open = False
            self.requests[stream_id].reset_by_client = True

    def change_settings(self) -> None:
        codes = h2.settings.SettingCodes
        choices = {
            codes.INITIAL_WINDOW_SIZE: self.rng.choice([0, 1, 1000, 65_535, 1 << 20]),
            codes.MAX_FRAME_SIZE: self.rng.choice([16_384, 20_000, 1 << 20]),
            codes.HEADER_TABLE_SIZE: self.rng.choice([0, 100, 4096]),
        }
        picked = self.rng.sample(list(choices), self.rng.randrange(1, 4))
        self.pair.client.update_settings({code: choices[code] for code in picked})

    def ping(self) -> None:
        self.pings += 1
        self.pair.client.ping(b"%08d" % self.pings)

    # -- server moves -----------------------------------------------------------------------
    def respond(self) -> None:
        server, rng = self.pair.server, self.rng
        candidates = [s for s, r in self.requests.items() if s in server.streams and r.heads]
        if not candidates:
            return
        stream_id = rng.choice(candidates)
        request = self.requests[stream_id]
        if server.streams[stream_id].local_open is False:
            return
        if not self.finishing and rng.random() < 0.05:
            server.reset_stream(stream_id, rng.choice([0x8, 0x2]))
            request.reset_by_server = True  # the client learns of it on the next transfer
            return
        if request.response_left < 0:
            request.response_left = rng.randrange(0, 20_000)
            server.send_headers(stream_id, [(b":status", b"200")], end_stream=False)
        size = min(server.local_flow_control_window(stream_id), server.max_outbound_frame_size)
        size = min(size, request.response_left)
        if size > 0 or request.response_left == 0:
            request.response_left -= size
            server.send_data(stream_id, b"r" * size, end_stream=request.response_left == 0)

    # -- the exchange ---------------------------------------------------------------------------
    def transfer(self) -> None:
        """Client bytes to the server in random pieces, the server's back; credit both ways."""
        pair, rng = self.pair, self.rng
        data = pair.client.data_to_send()
        while data:
            cut = rng.randrange(1, len(data) + 1) if rng.random() < 0.5 else len(data)
            pair.server.receive_data(data[:cut])
            data = data[cut:]
        self.collect()
        for event in pair.client.receive_data(pair.server.data_to_send()):
            if isinstance(event, h2.events.DataReceived):
                pair.client.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamReset) and event.stream_id in self.requests:
                self.requests[event.stream_id].client_open = False

    def collect(self) -> None:
        server = self.pair.server
        for event in self.pair.log.take():
            kind = event[0]
            if kind in ("data", "discarded"):
                flow = event[-1]
                if flow:
                    server.increment_flow_control_window(flow)
                if kind == "data":
                    self.requests[event[1]].received += event[2]
                    stream = server.streams.get(event[1])
                    if flow and stream is not None and stream.remote_open:
                        server.increment_flow_control_window(flow, event[1])
            elif kind == "request":
                self.requests[event[1]].heads.append(event[2])
                self.requests[event[1]].ended += event[3]  # no body: ended with its head
            elif kind == "trailers":
                self.requests[event[1]].reported_trailers = event[2]
            elif kind == "ended":
                self.requests[event[1]].ended += 1
            elif kind == "reset":
                self.requests[event[1]].resets.append((event[2], event[3]))

    def run(self, steps: int) -> None:
        moves = [self.open_request] * 3 + [self.send_body] * 6 + [self.respond] * 4
        moves += [self.reset_by_client, self.change_settings, self.ping]
        for _ in range(steps):
            self.rng.choice(moves)()
            if self.rng.random() < 0.4:
                self.transfer()
        self.finishing = True
        codes = h2.settings.SettingCodes  # windows of a useful size, so the finish is quick
        self.pair.client.update_settings({codes.INITIAL_WINDOW_SIZE: 65_535})
        for _ in range(5000):  # finish: every upload ends, every response completes
            busy = [r for s, r in self.requests.items() if r.client_open]
            if not busy and not any(s in self.pair.server.streams for s in self.requests):
                break
            for _ in range(len(busy)):
                self.send_body()
            for _ in range(len(self.requests)):
                self.respond()
            self.transfer()

    def check(self) -> None:
        for stream_id, request in self.requests.items():
            assert len(request.heads) == 1, (stream_id, request.heads)
            head = request.heads[0]
            fields = dict(request.fields)
            assert head.method == fields[b":method"].decode()
            assert (
                head.raw_path + (b"?" + head.query_string if head.query_string else b"")
                == (fields[b":path"])
            )
            regular = [f for f in request.fields if not f[0].startswith(b":")]
            assert head.headers == regular
            assert request.received == request.sent[: len(request.received)]
            # No stream errors on legal input; a client reset is reported unless ours crossed it.
            assert all(remote for _, remote in request.resets), request.resets
            crossed = request.reset_by_server
            assert len(request.resets) == (1 if request.reset_by_client and not crossed else 0)
            if request.ended:
                assert request.ended == 1
                assert request.received == request.sent
                assert request.reported_trailers == request.trailers
            # Every request completed, unless either side reset it.
            assert request.ended or request.reset_by_client or request.reset_by_server


@pytest.mark.parametrize("seed", range(40))
def test_random_legal_client_sequences_are_accepted_and_reported_once(seed: int) -> None:
    fuzz = _Fuzz(seed)
    fuzz.run(steps=150)
    fuzz.check()
    assert not [e for e in fuzz.pair.client_events if isinstance(e, h2.events.ConnectionTerminated)]
