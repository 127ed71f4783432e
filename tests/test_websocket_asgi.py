"""ASGI WebSockets over HTTP/1.1: a real server in a thread, real clients (websockets, raw)."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.apps import ws_asgi
from tests.apps.ws_asgi import REPORTS, app, starlette_app
from tests.apps.ws_raw import RawWebSocket
from tests.helpers import drain, next_report

Serve = Callable[..., contextlib.AbstractContextManager[Any]]
WAIT = 10.0


@pytest.fixture
def srv(serve: Serve, parser: str) -> Iterator[Any]:
    """The routed ASGI app, on both HTTP/1 parsers."""
    _drain_reports()
    with serve(app, interface="asginl", http1_parser=parser) as server:
        yield server


def _drain_reports() -> None:
    drain(REPORTS)


def _report(name: str) -> Any:
    return next_report(REPORTS, name)


def _ws(server: Any, path: str, **options: Any) -> ClientConnection:
    options.setdefault("open_timeout", WAIT)
    options.setdefault("close_timeout", WAIT)
    return connect(f"ws://127.0.0.1:{server.port}{path}", **options)


# -- messages ----------------------------------------------------------------------------
def test_echo_text_and_binary(srv: Any) -> None:
    with _ws(srv, "/echo") as ws:
        ws.send("héllo")
        assert ws.recv(timeout=WAIT) == "héllo"
        ws.send(b"\x00\xffbinary")
        assert ws.recv(timeout=WAIT) == b"\x00\xffbinary"
        ws.send("")
        assert ws.recv(timeout=WAIT) == ""
    assert _report("disconnect") == (1000, "")


@pytest.mark.parametrize("compression", ["deflate", None])
def test_one_megabyte_messages(srv: Any, compression: str | None) -> None:
    text = "abcdefgh" * (1024 * 128)
    data = bytes(range(256)) * 4096
    with _ws(srv, "/echo", compression=compression, max_size=None) as ws:
        ws.send(text)
        assert ws.recv(timeout=WAIT) == text
        ws.send(data)
        assert ws.recv(timeout=WAIT) == data


def test_fragmented_message_is_reassembled(srv: Any) -> None:
    with _ws(srv, "/echo") as ws:
        ws.send(iter(["frag", "men", "ted"]))
        assert ws.recv(timeout=WAIT) == "fragmented"
        ws.send(iter([b"a", b"b"]))
        assert ws.recv(timeout=WAIT) == b"ab"


def test_burst_of_a_thousand_messages_each_way(srv: Any) -> None:
    with _ws(srv, "/echo") as ws:
        for index in range(1000):
            ws.send(f"message {index}")
        assert [ws.recv(timeout=WAIT) for _ in range(1000)] == [
            f"message {index}" for index in range(1000)
        ]
    with _ws(srv, "/burst") as ws:
        received = [ws.recv(timeout=WAIT) for _ in range(ws_asgi.BURST)]
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=WAIT)
    assert received == [str(index) for index in range(ws_asgi.BURST)]
    assert ws.close_code == 1000


def test_ping_is_answered_with_pong(srv: Any) -> None:
    with _ws(srv, "/echo") as ws:
        assert ws.ping(b"are you there").wait(WAIT)


# -- handshake -----------------------------------------------------------------------------
def test_scope(srv: Any) -> None:
    with _ws(srv, "/scope?a=1&b=%20", subprotocols=["one", "two"]) as ws:
        scope = json.loads(ws.recv(timeout=WAIT))
    assert scope["type"] == "websocket"
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.3"}
    assert scope["http_version"] == "1.1"
    assert scope["scheme"] == "ws"
    assert scope["path"] == "/scope"
    assert scope["raw_path"] == "/scope"
    assert scope["query_string"] == "a=1&b=%20"
    assert scope["root_path"] == ""
    assert scope["subprotocols"] == ["one", "two"]
    assert scope["client"][0] == "127.0.0.1"
    assert scope["server"] == ["127.0.0.1", srv.port]
    assert scope["extensions"] == {"websocket.http.response": {}}
    assert scope["has_state"] is True
    assert "method" not in scope
    headers = dict(scope["headers"])
    assert headers["upgrade"].lower() == "websocket"
    assert headers["sec-websocket-version"] == "13"


def test_subprotocol_is_negotiated(srv: Any) -> None:
    with _ws(srv, "/echo", subprotocols=["other", "chat"]) as ws:
        assert ws.subprotocol == "chat"
        assert ws.response.headers["sec-websocket-protocol"] == "chat"
    with _ws(srv, "/echo") as ws:
        assert ws.subprotocol is None
        assert "sec-websocket-protocol" not in ws.response.headers


def test_accept_with_headers(srv: Any) -> None:
    # The client would fail the handshake on the app's handshake fields: they are dropped.
    with _ws(srv, "/headers", compression=None) as ws:
        headers = ws.response.headers
        assert headers["x-custom"] == "yes"
        assert headers["set-cookie"] == "a=1"
        assert headers["server"] == "granian"
        assert "date" in headers
        assert headers.get_all("sec-websocket-accept") == [headers["sec-websocket-accept"]]
        assert headers["sec-websocket-accept"] != "bogus"
        assert "sec-websocket-extensions" not in headers  # never negotiated
        assert headers.get_all("connection") == ["Upgrade"]
        assert headers.get_all("upgrade") == ["websocket"]


def test_deflate_is_negotiated_when_offered(srv: Any) -> None:
    with _ws(srv, "/echo") as ws:
        assert ws.response.headers["sec-websocket-extensions"].startswith("permessage-deflate")
        ws.send("compress me " * 1000)
        assert ws.recv(timeout=WAIT) == "compress me " * 1000
    with _ws(srv, "/echo", compression=None) as ws:
        assert "sec-websocket-extensions" not in ws.response.headers


# -- closing -------------------------------------------------------------------------------
def test_server_close_with_code_and_reason(srv: Any) -> None:
    with _ws(srv, "/close?code=4001&reason=bye") as ws, pytest.raises(ConnectionClosed):
        ws.recv(timeout=WAIT)
    assert (ws.close_code, ws.close_reason) == (4001, "bye")
    after = _report("after-close")
    assert after["type"] == "websocket.disconnect"
    assert after["code"] == 4001  # the client echoed our close frame


def test_close_reason_that_is_not_utf8_is_an_app_error_closed_with_1011(srv: Any) -> None:
    # A lone surrogate cannot be sent: the app gets a clear error, and the session is
    # still open to be closed for it (it was left half-closed, with no close frame sent).
    with _ws(srv, "/close-unencodable-reason") as ws, pytest.raises(ConnectionClosed):
        ws.recv(timeout=WAIT)
    assert ws.close_code == 1011
    assert "close reason is not valid UTF-8" in _report("close-error")


def test_close_reason_that_is_not_a_str_is_refused_and_the_app_may_close_again(
    srv: Any,
) -> None:
    with _ws(srv, "/close-bytes-reason") as ws, pytest.raises(ConnectionClosed):
        ws.recv(timeout=WAIT)
    assert "'reason' must be a str" in _report("close-error")
    assert (ws.close_code, ws.close_reason) == (4001, "second try")


def test_a_subprotocol_header_beside_the_subprotocol_is_not_sent_twice(srv: Any) -> None:
    # A second Sec-WebSocket-Protocol line makes clients fail the handshake.
    with _ws(srv, "/subprotocol-and-header", subprotocols=["chat"]) as ws:
        assert ws.subprotocol == "chat"
        assert ws.response.headers.get_all("sec-websocket-protocol") == ["chat"]
        assert ws.response.headers["x-kept"] == "1"


def test_client_close_with_code_and_reason(srv: Any) -> None:
    with _ws(srv, "/echo") as ws:
        ws.close(code=4002, reason="client bye")
    assert _report("disconnect") == (4002, "client bye")


def test_client_dropping_the_connection_is_1006(srv: Any) -> None:
    with RawWebSocket(srv.port) as raw:
        status, _, _ = raw.handshake("/echo")
        assert status == 101
    assert _report("disconnect") == (1006, "")


def test_close_before_accept_is_403(srv: Any) -> None:
    with pytest.raises(InvalidStatus) as info:
        _ws(srv, "/reject")
    assert info.value.response.status_code == 403


def test_denial_response_extension(srv: Any) -> None:
    with RawWebSocket(srv.port) as raw:
        status, headers, body = raw.handshake("/deny")
        assert status == 401
        assert headers["x-denied"] == "1"
        assert headers["content-type"] == "text/plain"
        assert body == b"no entry"
        assert raw.at_eof()


def test_an_unfinished_denial_response_is_an_app_error(
    srv: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # A 403 would hide the app's status and pass a cut body off as whole.
    with caplog.at_level(logging.ERROR, logger="_granian"):
        with pytest.raises(InvalidStatus) as info:
            _ws(srv, "/deny-unfinished")
        assert info.value.response.status_code == 500
        deadline = time.monotonic() + WAIT
        while "without finishing its websocket.http.response" not in caplog.text:
            assert time.monotonic() < deadline, caplog.text
            time.sleep(0.01)


def test_exception_before_accept_is_500(srv: Any) -> None:
    with pytest.raises(InvalidStatus) as info:
        _ws(srv, "/raise-before")
    assert info.value.response.status_code == 500
    assert info.value.response.body == b"Internal server error"


def test_exception_after_accept_closes_with_1011(
    srv: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="_granian"):
        with _ws(srv, "/raise-after") as ws, pytest.raises(ConnectionClosed):
            ws.recv(timeout=WAIT)
        assert ws.close_code == 1011
        deadline = time.monotonic() + WAIT
        while "Application callable raised" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.01)
    assert "boom after accept" in caplog.text


def test_returning_before_accept_is_403(srv: Any) -> None:
    with pytest.raises(InvalidStatus) as info:
        _ws(srv, "/return-before")
    assert info.value.response.status_code == 403


def test_returning_after_accept_closes_with_1000(srv: Any) -> None:
    with _ws(srv, "/return-after") as ws:
        assert ws.recv(timeout=WAIT) == "bye"
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=WAIT)
    assert ws.close_code == 1000


def test_send_after_disconnect_raises_an_oserror(srv: Any) -> None:
    with _ws(srv, "/send-after-disconnect") as ws:
        ws.close()
    assert _report("send-after-disconnect") == "ClientDisconnected"


# -- backpressure --------------------------------------------------------------------------
def test_slow_reader_makes_sends_wait(srv: Any) -> None:
    ws_asgi.flood_progress["sent"] = 0
    with RawWebSocket(srv.port, rcvbuf=64 * 1024) as raw:
        status, _, _ = raw.handshake("/flood", b"")
        assert status == 101
        sent = _wait_until_stalled()
        # Nothing is read: sends must block long before the whole flood is queued.
        assert 0 < sent < ws_asgi.FLOOD_TOTAL // 8
        # Reading resumes the flood.
        for _ in range(64):
            raw.read_frame()
        assert _wait_until_stalled() > sent
    assert _report("flood-outcome") == "ClientDisconnected"


def _wait_until_stalled() -> int:
    """The flood's sent-bytes count once it stopped moving (bounded wait)."""
    deadline = time.monotonic() + WAIT
    last, steady = -1, 0
    while time.monotonic() < deadline:
        sent = ws_asgi.flood_progress["sent"]
        steady = steady + 1 if sent == last and sent > 0 else 0
        if steady >= 5:
            return sent
        last = sent
        time.sleep(0.05)
    pytest.fail(f"the flood never stalled (sent {last} bytes)")


def test_app_not_reading_stops_the_server_reading(srv: Any) -> None:
    total = 64 * 1024 * 1024
    ws_asgi.idle_release.clear()
    with RawWebSocket(srv.port) as raw:
        raw.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
        status, _, _ = raw.handshake("/idle")
        assert status == 101
        assert _report("idle-accepted") is True
        raw.sock.settimeout(1.0)
        sent = _send_until_blocked(raw, _masked_binary_frame(64 * 1024), total)
        # The server holds a bounded backlog (1 MiB queued + socket buffers), not 64 MiB.
        assert sent < total // 4
        ws_asgi.idle_release.set()
    # Everything the server did read reaches the app once it reads.
    assert _report("idle-received") > 0


def _send_until_blocked(raw: RawWebSocket, frame: bytes, total: int) -> int:
    """Bytes sent before a send blocked (the socket's timeout); ``total`` if none did."""
    sent = 0
    try:
        while sent < total:
            raw.send(frame)
            sent += len(frame)
    except TimeoutError:
        return sent
    return total


def _masked_binary_frame(size: int) -> bytes:
    from tests.apps.ws_raw import OP_BINARY, encode_frame

    return encode_frame(OP_BINARY, b"\x01" * size)


# -- configuration -------------------------------------------------------------------------
def test_no_ws_serves_upgrades_as_plain_http(serve: Serve, parser: str) -> None:
    with (
        serve(app, interface="asginl", http1_parser=parser, websockets=False) as server,
        RawWebSocket(server.port) as raw,
    ):
        status, _, body = raw.handshake("/echo")
    assert status == 200
    assert json.loads(body) == {"type": "http", "upgrade": "websocket"}


def test_access_log_line_with_status_101(serve: Serve, caplog: pytest.LogCaptureFixture) -> None:
    with (
        caplog.at_level(logging.INFO, logger="granian.access"),
        serve(app, interface="asginl", log_access=True) as server,
    ):
        with _ws(server, "/echo") as ws:
            ws.send("x")
            ws.recv(timeout=WAIT)
        with pytest.raises(InvalidStatus):
            _ws(server, "/reject")
        lines = _wait_for_access_lines(caplog, 2)
    assert '"GET /echo HTTP/1.1" 101' in lines[0]
    assert '"GET /reject HTTP/1.1" 403' in lines[1]


def _wait_for_access_lines(caplog: pytest.LogCaptureFixture, count: int) -> list[str]:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        lines = [r.getMessage() for r in caplog.records if r.name == "granian.access"]
        if len(lines) >= count:
            return lines
        time.sleep(0.02)
    pytest.fail("access log lines missing")


# -- Starlette -------------------------------------------------------------------------------
def test_starlette_websocket_endpoint(serve: Serve, parser: str) -> None:
    _drain_reports()
    with serve(starlette_app, interface="asgi", http1_parser=parser) as server:
        with _ws(server, "/ws/lobby", subprotocols=["json"]) as ws:
            assert ws.subprotocol == "json"
            ws.send(json.dumps({"n": 1}))
            assert json.loads(ws.recv(timeout=WAIT)) == {"echo": {"n": 1}, "path": "/ws/lobby"}
            ws.close(code=4100)
        assert _report("starlette-disconnect") == 4100
        with pytest.raises(InvalidStatus) as info:
            _ws(server, "/deny")
        assert info.value.response.status_code == 403


def test_concurrent_sessions(srv: Any) -> None:
    errors: list[BaseException] = []

    def chat(index: int) -> None:
        try:
            with _ws(srv, "/echo") as ws:
                for turn in range(20):
                    ws.send(f"{index}:{turn}")
                    assert ws.recv(timeout=WAIT) == f"{index}:{turn}"
        except BaseException as exc:  # reported to the main thread
            errors.append(exc)

    threads = [threading.Thread(target=chat, args=(index,)) for index in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert not errors


# -- transports and loops ----------------------------------------------------------------------
def test_wss_over_tls(serve: Serve, tmp_path: Path) -> None:
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    verify = ssl.create_default_context()
    ca.configure_trust(verify)
    with serve(app, interface="asginl", ssl_cert=cert, ssl_key=key) as server:
        uri = f"wss://127.0.0.1:{server.port}"
        with connect(f"{uri}/scope", ssl=verify, open_timeout=WAIT) as ws:
            scope = json.loads(ws.recv(timeout=WAIT))
        with connect(f"{uri}/echo", ssl=verify, open_timeout=WAIT) as ws:
            ws.send("secure")
            assert ws.recv(timeout=WAIT) == "secure"
    assert scope["scheme"] == "wss"


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_echo_on_each_loop(serve: Serve, loop: str) -> None:
    with serve(app, interface="asginl", loop=loop) as server, _ws(server, "/echo") as ws:
        for size in (10, 100_000, 1_000_000):
            ws.send(b"z" * size)
            assert ws.recv(timeout=WAIT) == b"z" * size
