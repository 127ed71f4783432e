"""The WebSocket protocol layer with a raw-socket client: handshake checks, bad frames,
limits, keepalive, close codes, upgrade plumbing. A real server in a thread, both parsers."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from granian_core.ws import limits as ws_limits
from granian_core.ws.limits import WSLimits
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.apps.ws_asgi import REPORTS, app
from tests.apps.ws_raw import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    RawWebSocket,
    close_payload,
    encode_frame,
)
from tests.helpers import drain, next_report

Serve = Callable[..., contextlib.AbstractContextManager[Any]]
WAIT = 10.0


@pytest.fixture
def srv(serve: Serve, parser: str) -> Iterator[Any]:
    _drain_reports()
    with serve(app, interface="asginl", http1_parser=parser) as server:
        yield server


@pytest.fixture
def limits(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Set the limits new sessions get (read at session creation)."""

    def apply(**fields: Any) -> None:
        monkeypatch.setattr(ws_limits, "DEFAULT_LIMITS", WSLimits(**fields))

    return apply


def _drain_reports() -> None:
    drain(REPORTS)


def _report(name: str) -> Any:
    return next_report(REPORTS, name)


def _open(server: Any, path: str = "/echo", extra: bytes = b"") -> RawWebSocket:
    raw = RawWebSocket(server.port, timeout=WAIT)
    status, headers, _ = raw.handshake(path, extra)
    assert status == 101, headers
    return raw


def _closed_with(raw: RawWebSocket, code: int) -> None:
    """The server sends a close frame with ``code``, then ends the connection."""
    frame = raw.read_until_close()
    assert frame.close_code == code, frame
    assert raw.at_eof()


# -- handshake ------------------------------------------------------------------------------
def test_handshake_response(srv: Any) -> None:
    with RawWebSocket(srv.port) as raw:
        key = b"dGhlIHNhbXBsZSBub25jZQ=="
        raw.send(raw.upgrade_request("/echo", key=key))
        status, headers, _ = raw.read_head()
    assert status == 101
    assert headers["upgrade"] == "websocket"
    assert headers["connection"].lower() == "upgrade"
    assert headers["sec-websocket-accept"] == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455 §1.3
    assert headers["server"] == "granian"
    assert "content-length" not in headers


@pytest.mark.parametrize(
    ("request_bytes", "reason"),
    [
        (
            b"GET /echo HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n",
            b"Sec-WebSocket-Key",
        ),
        (
            b"GET /echo HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
            b"Sec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n\r\n",
            b"Sec-WebSocket-Key",
        ),
        (
            b"POST /echo HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
            b"GET",
        ),
        (
            b"GET /echo HTTP/1.0\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
            b"HTTP/1.1",
        ),
    ],
)
def test_invalid_handshake_is_400_and_the_app_is_not_called(
    srv: Any, request_bytes: bytes, reason: bytes
) -> None:
    with RawWebSocket(srv.port) as raw:
        raw.send(request_bytes)
        status, headers, body = raw.read_head()
        assert raw.at_eof()
    assert status == 400
    assert headers["connection"] == "close"
    assert reason in body
    assert REPORTS.empty()


def test_unsupported_version_names_the_supported_one(srv: Any) -> None:
    with RawWebSocket(srv.port) as raw:
        raw.send(
            b"GET /echo HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n"
        )
        status, headers, _ = raw.read_head()
    assert status == 400
    assert headers["sec-websocket-version"] == "13"


def test_upgrade_request_with_a_body_is_400(srv: Any) -> None:
    with RawWebSocket(srv.port) as raw:
        raw.send(raw.upgrade_request("/echo", b"Content-Length: 3\r\n") + b"abc")
        status, _, _ = raw.read_head()
    assert status == 400


def test_frames_sent_with_the_upgrade_request_are_served(srv: Any) -> None:
    with RawWebSocket(srv.port) as raw:
        early = encode_frame(OP_TEXT, b"early") + encode_frame(OP_BINARY, b"bird")
        status, _, _ = raw.handshake("/echo", early=early)
        assert status == 101
        assert raw.read_frame().payload == b"early"
        assert raw.read_frame().payload == b"bird"


def test_pipelined_request_before_the_upgrade(srv: Any) -> None:
    with RawWebSocket(srv.port) as raw:
        raw.send(b"GET /plain HTTP/1.1\r\nHost: x\r\n\r\n" + raw.upgrade_request("/echo"))
        status, _, body = raw.read_head()
        assert status == 200
        assert json.loads(body)["type"] == "http"
        status, _, _ = raw.read_head()
        assert status == 101
        raw.send_frame(OP_TEXT, b"after")
        assert raw.read_frame().payload == b"after"


def test_wsgi_serves_upgrades_as_plain_http(serve: Serve) -> None:
    def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", [("content-type", "text/plain")])
        return [environ.get("HTTP_UPGRADE", "").encode()]

    with serve(wsgi_app, interface="wsgi") as server, RawWebSocket(server.port) as raw:
        status, _, body = raw.handshake("/echo")
    assert status == 200
    assert body == b"websocket"


# -- frames -----------------------------------------------------------------------------------
def test_ping_gets_a_pong_with_its_payload(srv: Any) -> None:
    with _open(srv) as raw:
        raw.send_frame(OP_PING, b"payload")
        frame = raw.read_frame()
    assert (frame.opcode, frame.payload) == (OP_PONG, b"payload")


def test_pings_from_a_peer_that_does_not_read_do_not_pile_up(srv: Any) -> None:
    # Every pong queued for a peer that does not read grew the worker without bound; while
    # our writes wait, only the latest ping is answered (RFC 6455 §5.5.3).
    count = 100_000
    with RawWebSocket(srv.port, timeout=WAIT, rcvbuf=4096) as raw:
        status, _, _ = raw.handshake("/echo")
        assert status == 101
        pings = b"".join(encode_frame(OP_PING, b"%06d" % i + b"x" * 119) for i in range(count))
        raw.send(pings + encode_frame(OP_TEXT, b"end"))
        latest = b"%06d" % (count - 1)
        pongs = []
        echoed = False
        while not pongs or pongs[-1] != latest:  # the latest one is answered once we read
            frame = raw.read_frame()
            if frame.opcode == OP_TEXT:
                echoed = True
            else:
                assert frame.opcode == OP_PONG
                pongs.append(frame.payload[:6])
        assert echoed or raw.read_frame().payload == b"end"
    assert len(pongs) < count // 2


def test_a_send_racing_the_clients_close_is_not_an_app_error(
    srv: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # The message and the close arrive together: the echo's send finds the session closed
    # by the client. The app is not at fault, so no error line (debug only).
    with caplog.at_level(logging.DEBUG, logger="_granian"), _open(srv) as raw:
        raw.send(encode_frame(OP_TEXT, b"last") + encode_frame(OP_CLOSE, close_payload(1000)))
        _closed_with(raw, 1000)
        deadline = time.monotonic() + WAIT
        while "WebSocket client went away" not in caplog.text:
            assert time.monotonic() < deadline, caplog.text
            time.sleep(0.01)
    assert "Application callable raised an exception" not in caplog.text


def test_fragments_with_an_interleaved_ping(srv: Any) -> None:
    with _open(srv) as raw:
        raw.send_frame(OP_TEXT, b"frag", fin=False)
        raw.send_frame(OP_PING, b"mid")
        raw.send_frame(OP_CONT, "mént".encode()[:2], fin=False)  # a code point split in two
        raw.send_frame(OP_CONT, "mént".encode()[2:])
        pong = raw.read_frame()
        echo = raw.read_frame()
    assert (pong.opcode, pong.payload) == (OP_PONG, b"mid")
    assert (echo.opcode, echo.payload) == (OP_TEXT, "fragmént".encode())


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (encode_frame(OP_TEXT, b"unmasked", mask=False), 1002),
        (encode_frame(0x3, b"reserved opcode"), 1002),
        (encode_frame(OP_CONT, b"nothing to continue"), 1002),
        (encode_frame(OP_PING, b"x", fin=False), 1002),
        (encode_frame(OP_PING, b"x" * 126), 1002),
        (encode_frame(OP_TEXT, b"rsv1 without deflate", rsv1=True), 1002),
        (encode_frame(OP_TEXT, b"\xff\xfe invalid utf-8"), 1007),
        (encode_frame(OP_CLOSE, close_payload(1000) + b"\xff"), 1007),
        (encode_frame(OP_CLOSE, b"\x03"), 1002),
    ],
    ids=[
        "unmasked",
        "bad-opcode",
        "orphan-continuation",
        "fragmented-ping",
        "long-ping",
        "rsv1",
        "invalid-utf8",
        "invalid-utf8-close-reason",
        "one-byte-close",
    ],
)
def test_misbehaving_client_is_closed_with_the_right_code(
    srv: Any, frame: bytes, code: int
) -> None:
    with _open(srv) as raw:
        raw.send(frame)
        _closed_with(raw, code)
    assert _report("disconnect")[0] == code


def test_large_messages_round_trip(srv: Any) -> None:
    """16- and 64-bit lengths, both unmasking paths, frames split over many reads."""
    text = "dé" * 40_000  # 120 000 bytes of UTF-8
    data = os.urandom(70_000)
    with _open(srv) as raw:
        raw.send_frame(OP_TEXT, text.encode())
        raw.send_frame(OP_BINARY, data[:3000])
        raw.send_frame(OP_BINARY, data)
        frames = [raw.read_frame() for _ in range(3)]
    assert [(f.opcode, f.payload) for f in frames] == [
        (OP_TEXT, text.encode()),
        (OP_BINARY, data[:3000]),
        (OP_BINARY, data),
    ]


def test_frames_trickling_in_byte_by_byte(srv: Any) -> None:
    wire = (
        encode_frame(OP_BINARY, b"frag", fin=False)
        + encode_frame(OP_PING, b"mid")
        + encode_frame(OP_CONT, b"ments" * 30)
        + encode_frame(OP_TEXT, "dé".encode())
    )
    with _open(srv) as raw:
        raw.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(len(wire)):
            raw.send(wire[i : i + 1])
        frames = [raw.read_frame() for _ in range(3)]
    assert [(f.opcode, f.payload) for f in frames] == [
        (OP_PONG, b"mid"),
        (OP_BINARY, b"frag" + b"ments" * 30),
        (OP_TEXT, "dé".encode()),
    ]


@pytest.mark.parametrize(
    "frame",
    [
        encode_frame(OP_CLOSE, close_payload(1004)),
        encode_frame(OP_CLOSE, close_payload(2999)),
        encode_frame(OP_BINARY, b"", length=1 << 63),
        encode_frame(OP_TEXT, b"a", fin=False) + encode_frame(OP_BINARY, b"b"),
    ],
    ids=["reserved-close-code", "unassigned-close-code", "64-bit-msb", "interrupted-message"],
)
def test_more_protocol_errors_are_1002(srv: Any, frame: bytes) -> None:
    with _open(srv) as raw:
        raw.send(frame)
        _closed_with(raw, 1002)
    assert _report("disconnect")[0] == 1002


def test_invalid_utf8_split_across_fragments_is_1007(srv: Any) -> None:
    with _open(srv) as raw:
        raw.send_frame(OP_TEXT, b"ok \xe2\x82", fin=False)
        raw.send_frame(OP_CONT, b"\x41")  # not a continuation byte
        _closed_with(raw, 1007)


def test_client_close_is_echoed(srv: Any) -> None:
    with _open(srv) as raw:
        raw.send_frame(OP_CLOSE, close_payload(4321, "done"))
        frame = raw.read_frame()
        assert raw.at_eof()
    assert frame.close_code == 4321
    assert _report("disconnect") == (4321, "done")


def test_close_without_code_is_1005_for_the_app(srv: Any) -> None:
    with _open(srv) as raw:
        raw.send_frame(OP_CLOSE, b"")
        frame = raw.read_frame()
    assert (frame.opcode, frame.payload) == (OP_CLOSE, b"")
    assert _report("disconnect") == (1005, "")


# -- size limits ---------------------------------------------------------------------------------
def test_message_over_the_limit_is_1009(serve: Serve, limits: Callable[..., None]) -> None:
    limits(max_message_size=64 * 1024)
    _drain_reports()
    with serve(app, interface="asginl") as server:
        uri = f"ws://127.0.0.1:{server.port}/echo"
        with connect(uri, open_timeout=WAIT, max_size=None) as ws:
            ws.send(b"x" * (64 * 1024))  # exactly the limit: fine
            assert len(ws.recv(timeout=WAIT)) == 64 * 1024
            ws.send(b"x" * (64 * 1024 + 1))
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=WAIT)
        assert ws.close_code == 1009
        assert _report("disconnect")[0] == 1009


def test_announced_oversize_frame_is_refused_before_its_payload(
    serve: Serve, limits: Callable[..., None]
) -> None:
    limits(max_message_size=64 * 1024)
    _drain_reports()
    with serve(app, interface="asginl") as server, _open(server) as raw:
        # Only the header is sent: the server must not wait for 1 TiB of payload.
        raw.send(encode_frame(OP_BINARY, b"", length=1 << 40))
        _closed_with(raw, 1009)
        assert _report("disconnect")[0] == 1009


def test_fragments_adding_up_over_the_limit_are_1009(
    serve: Serve, limits: Callable[..., None]
) -> None:
    limits(max_message_size=64 * 1024)
    with serve(app, interface="asginl") as server, _open(server) as raw:
        raw.send_frame(OP_BINARY, b"x" * 30 * 1024, fin=False)
        raw.send_frame(OP_CONT, b"x" * 30 * 1024, fin=False)
        raw.send_frame(OP_CONT, b"x" * 30 * 1024)
        _closed_with(raw, 1009)


def test_deflate_bomb_is_1009_with_bounded_inflate(
    serve: Serve, limits: Callable[..., None]
) -> None:
    limits(max_message_size=64 * 1024)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    bomb = compressor.compress(b"\x00" * (64 * 1024 * 1024)) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert len(bomb) < 128 * 1024
    with serve(app, interface="asginl") as server:
        raw = _open(server, extra=b"Sec-WebSocket-Extensions: permessage-deflate\r\n")
        with raw:
            raw.send_frame(OP_BINARY, bomb[:-4], rsv1=True)
            _closed_with(raw, 1009)


def test_compressed_messages_round_trip_with_a_raw_client(serve: Serve) -> None:
    with serve(app, interface="asginl") as server:
        extra = b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
        with RawWebSocket(server.port) as raw:
            status, headers, _ = raw.handshake("/echo", extra)
            assert status == 101
            assert headers["sec-websocket-extensions"].startswith("permessage-deflate")
            compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
            payload = compressor.compress(b"hello " * 100) + compressor.flush(zlib.Z_SYNC_FLUSH)
            raw.send_frame(OP_TEXT, payload[:-4], rsv1=True)
            frame = raw.read_frame()
    assert frame.rsv1
    inflated = zlib.decompressobj(-15).decompress(frame.payload + b"\x00\x00\xff\xff")
    assert inflated == b"hello " * 100


# -- keepalive and shutdown -----------------------------------------------------------------------
def test_server_pings_an_idle_peer_and_closes_a_silent_one(
    serve: Serve, limits: Callable[..., None]
) -> None:
    limits(ping_interval=0.2, pong_timeout=1.0)
    _drain_reports()
    with serve(app, interface="asginl") as server, _open(server) as raw:
        ping = raw.read_frame()
        assert ping.opcode == OP_PING
        raw.send_frame(OP_PONG, ping.payload)
        # Answered: the session lives on and the next idle period brings another ping.
        assert raw.read_frame().opcode == OP_PING
        # Not answered: 1011 once the pong timeout passes.
        _closed_with(raw, 1011)
        assert _report("disconnect")[0] == 1011


def test_shutdown_closes_open_sessions_with_1001(serve: Serve) -> None:
    _drain_reports()
    with serve(app, interface="asginl") as server:
        raw = _open(server)
        with raw:
            server.server.stop()
            frame = raw.read_until_close()
            assert frame.close_code == 1001
            raw.send_frame(OP_CLOSE, frame.payload[:2])
            assert raw.at_eof()
        assert _report("disconnect")[0] == 1001


def test_close_timeout_drops_a_peer_that_never_answers(
    serve: Serve, limits: Callable[..., None]
) -> None:
    limits(close_timeout=0.2)
    with (
        serve(app, interface="asginl") as server,
        _open(server, "/close?code=1000&reason=x") as raw,
    ):
        frame = raw.read_frame()
        assert frame.close_code == 1000
        assert raw.at_eof()  # we never answered: the server gave up after the timeout
    after = _report("after-close")
    assert after["code"] == 1006
