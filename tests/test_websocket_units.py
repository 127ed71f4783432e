"""Sans-IO pieces of the WebSocket layer: handshake checks, extensions, limits, parsers."""

from __future__ import annotations

import zlib

import pytest
from granian_core.http1.events import END_OF_BODY, ParseError, RequestHead
from granian_core.http1.parsers import make_parser
from granian_core.websocket import is_valid_close_code
from granian_core.ws.deflate import negotiate_extensions
from granian_core.ws.h1 import split_target
from granian_core.ws.handshake import (
    HandshakeError,
    accept_token,
    check_h1_upgrade,
    check_h2_connect,
    header_tokens,
)
from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Event, TextMessage

from tests.apps.ws_raw import OP_BINARY, OP_TEXT, encode_frame

KEY = b"dGhlIHNhbXBsZSBub25jZQ=="
GOOD = [
    (b"host", b"x"),
    (b"sec-websocket-key", KEY),
    (b"sec-websocket-version", b"13"),
    (b"sec-websocket-protocol", b"chat, superchat"),
    (b"sec-websocket-protocol", b" json "),
    (b"sec-websocket-extensions", b"permessage-deflate; client_max_window_bits, x-other"),
]


# -- handshake ----------------------------------------------------------------------------
def test_accept_token_matches_rfc6455() -> None:
    assert accept_token(KEY) == b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_valid_upgrade_request() -> None:
    handshake = check_h1_upgrade("GET", "1.1", GOOD)
    assert handshake.key == KEY
    assert handshake.subprotocols == ["chat", "superchat", "json"]
    assert handshake.extension_offers == ["permessage-deflate; client_max_window_bits", "x-other"]


@pytest.mark.parametrize(
    ("method", "version", "headers"),
    [
        ("POST", "1.1", GOOD),
        ("GET", "1.0", GOOD),
        ("GET", "1.1", [h for h in GOOD if h[0] != b"sec-websocket-key"]),
        ("GET", "1.1", [*GOOD, (b"sec-websocket-key", KEY)]),
        ("GET", "1.1", [(b"sec-websocket-key", b"not base64!"), *GOOD[2:]]),
        ("GET", "1.1", [(b"sec-websocket-key", b"c2hvcnQ="), *GOOD[2:]]),
        ("GET", "1.1", [h for h in GOOD if h[0] != b"sec-websocket-version"]),
        ("GET", "1.1", [(b"sec-websocket-version", b"8"), *GOOD[:2]]),
    ],
)
def test_invalid_upgrade_requests(
    method: str, version: str, headers: list[tuple[bytes, bytes]]
) -> None:
    with pytest.raises(HandshakeError):
        check_h1_upgrade(method, version, headers)


def test_h2_connect_has_no_key_but_needs_version_13() -> None:
    assert check_h2_connect([(b"sec-websocket-version", b"13")]).key is None
    with pytest.raises(HandshakeError):
        check_h2_connect([])


def test_header_tokens_skip_empty_items() -> None:
    assert header_tokens([(b"a", b" x ,, y,"), (b"b", b"z"), (b"a", b"w")], b"a") == ["x", "y", "w"]


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (b"/ws?a=1", (b"/ws", b"a=1", None)),
        (b"/ws", (b"/ws", b"", None)),
        (b"http://example.com:8000/ws?x", (b"/ws", b"x", "example.com:8000")),
        (b"http://example.com", (b"/", b"", "example.com")),
    ],
)
def test_split_target(target: bytes, expected: tuple[bytes, bytes, str | None]) -> None:
    assert split_target(target) == expected


def test_close_codes() -> None:
    assert all(is_valid_close_code(code) for code in (1000, 1001, 1011, 1014, 3000, 4999))
    assert not any(is_valid_close_code(code) for code in (999, 1004, 1005, 1006, 1015, 2000))
    assert not is_valid_close_code(5000)
    assert not is_valid_close_code("1000")


# -- extensions -----------------------------------------------------------------------------
def test_deflate_negotiation() -> None:
    answer, extensions = negotiate_extensions(["permessage-deflate"], 1024, True)
    assert answer == b"permessage-deflate"
    assert len(extensions) == 2
    answer, _ = negotiate_extensions(["permessage-deflate; client_max_window_bits"], 1024, True)
    assert answer == b"permessage-deflate; client_max_window_bits=15"


@pytest.mark.parametrize(
    "offers",
    [[], ["x-webkit-deflate-frame"], ["permessage-deflate; unknown_param"]],
)
def test_deflate_declined(offers: list[str]) -> None:
    answer, extensions = negotiate_extensions(offers, 1024, True)
    assert answer is None
    assert len(extensions) == 1  # the size guard only


def test_deflate_off() -> None:
    answer, _ = negotiate_extensions(["permessage-deflate"], 1024, False)
    assert answer is None


def _server(limit: int, offers: list[str]) -> Connection:
    _, extensions = negotiate_extensions(offers, limit, True)
    return Connection(ConnectionType.SERVER, extensions)


def _events(conn: Connection, data: bytes) -> list[Event]:
    conn.receive_data(data)
    return list(conn.events())


def test_size_guard_counts_every_fragment() -> None:
    conn = _server(10, [])
    events = _events(conn, encode_frame(OP_TEXT, b"12345", fin=False))
    assert isinstance(events[0], TextMessage)
    events = _events(conn, encode_frame(0, b"678901"))
    assert isinstance(events[-1], CloseConnection)
    assert events[-1].code == 1009


def test_size_guard_resets_per_message() -> None:
    conn = _server(10, [])
    for _ in range(5):
        events = _events(conn, encode_frame(OP_BINARY, b"x" * 10))
        assert isinstance(events[0], BytesMessage)
        assert events[0].message_finished


def test_inflate_is_bounded_by_the_limit() -> None:
    conn = _server(1000, ["permessage-deflate"])
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    bomb = compressor.compress(b"\x00" * (16 * 1024 * 1024)) + compressor.flush(zlib.Z_SYNC_FLUSH)
    events = _events(conn, encode_frame(OP_BINARY, bomb[:-4], rsv1=True))
    data_seen = sum(len(e.data) for e in events if isinstance(e, BytesMessage))
    assert data_seen <= 1001
    assert isinstance(events[-1], CloseConnection)
    assert events[-1].code == 1009


def test_compressed_message_within_the_limit() -> None:
    conn = _server(1000, ["permessage-deflate"])
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = compressor.compress(b"a" * 1000) + compressor.flush(zlib.Z_SYNC_FLUSH)
    events = _events(conn, encode_frame(OP_BINARY, body[:-4], rsv1=True))
    data = b"".join(e.data for e in events if isinstance(e, BytesMessage))
    assert data == b"a" * 1000


# -- parsers in WebSocket mode ----------------------------------------------------------------
UPGRADE = (
    b"GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
    b"Sec-WebSocket-Key: " + KEY + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


@pytest.mark.parametrize("piece", [1, 5, 10_000])
def test_parser_stops_after_a_websocket_head(parser: str, piece: int) -> None:
    p = make_parser(parser, 8192, True, websocket=True)
    raw = b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n" + UPGRADE + b"\x81\x85frame-bytes"
    for i in range(0, len(raw), piece):
        p.feed(raw[i : i + piece])
    p.feed(b"more")
    events = list(p.events)
    heads = [e for e in events if isinstance(e, RequestHead)]
    assert [h.target for h in heads] == [b"/a", b"/ws"]
    assert events[-1] is END_OF_BODY
    assert p.take_trailing() == b"\x81\x85frame-bytes" + b"more"
    assert p.take_trailing() == b""
    head_sizes = sum(h.size for h in heads)
    assert p.buffered == head_sizes


def test_parser_stops_even_on_the_last_request(parser: str) -> None:
    p = make_parser(parser, 8192, keep_alive=False, websocket=True)
    p.feed(UPGRADE + b"tail")
    assert p.take_trailing() == b"tail"


def test_websocket_upgrade_with_a_body_is_400(parser: str) -> None:
    p = make_parser(parser, 8192, True, websocket=True)
    p.feed(UPGRADE[:-2] + b"Content-Length: 3\r\n\r\nabc")
    errors = [e for e in p.events if isinstance(e, ParseError)]
    assert [e.status for e in errors] == [400]


def test_other_upgrades_are_plain_http_in_websocket_mode(parser: str) -> None:
    p = make_parser(parser, 8192, True, websocket=True)
    raw = (
        b"GET /h2c HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
        b"GET /next HTTP/1.1\r\nHost: h\r\n\r\n"
    )
    p.feed(raw)
    heads = [e for e in p.events if isinstance(e, RequestHead)]
    assert [h.target for h in heads] == [b"/h2c", b"/next"]
    assert p.take_trailing() == b""
