"""RSGI WebSockets over HTTP/1.1 (RSGI.md §5): a real server in a thread, real clients."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.apps.ws_raw import RawWebSocket
from tests.apps.ws_rsgi import REPORTS, app
from tests.helpers import next_report

Serve = Callable[..., contextlib.AbstractContextManager[Any]]
WAIT = 10.0


@pytest.fixture
def srv(serve: Serve, parser: str) -> Iterator[Any]:
    while not REPORTS.empty():
        REPORTS.get_nowait()
    with serve(app, interface="rsgi", http1_parser=parser) as server:
        yield server


def _report(name: str) -> Any:
    return next_report(REPORTS, name)


def _ws(server: Any, path: str, **options: Any) -> ClientConnection:
    return connect(f"ws://127.0.0.1:{server.port}{path}", open_timeout=WAIT, **options)


def test_echo_str_and_bytes(srv: Any) -> None:
    with _ws(srv, "/echo") as ws:
        ws.send("text ✓")
        assert ws.recv(timeout=WAIT) == "text ✓"
        ws.send(b"\x00bytes")
        assert ws.recv(timeout=WAIT) == b"\x00bytes"
        big = b"\x01" * (1024 * 1024)
        ws.send(big)
        assert ws.recv(timeout=WAIT) == big
    # The client's close frame is message kind 0 with data None.
    assert _report("echo-end") == ("close", None)


def test_scope(srv: Any) -> None:
    with _ws(srv, "/scope?x=%20y") as ws:
        scope = json.loads(ws.recv(timeout=WAIT))
    assert scope["proto"] == "ws"
    assert scope["rsgi_version"] == "1.6"
    assert scope["http_version"] == "1.1"
    assert scope["scheme"] == "http"
    assert scope["method"] == "GET"
    assert scope["path"] == "/scope"
    assert scope["query_string"] == "x=%20y"
    assert scope["authority"] is None
    assert scope["upgrade"].lower() == "websocket"
    assert scope["client"].startswith("127.0.0.1:")
    assert scope["server"] == f"127.0.0.1:{srv.port}"


@pytest.mark.parametrize(("query", "code"), [("?code=4001", 4001), ("", 1000), ("?code=5", 1000)])
def test_close_after_accept_sends_the_code(srv: Any, query: str, code: int) -> None:
    with _ws(srv, f"/close{query}") as ws, pytest.raises(ConnectionClosed):
        ws.recv(timeout=WAIT)
    assert ws.close_code == code
    assert _report("send-after-close") == "RSGIProtocolError"


@pytest.mark.parametrize(
    ("query", "status"), [("", 403), ("?status=401", 401), ("?status=1000", 403)]
)
def test_close_before_accept_is_an_http_status(srv: Any, query: str, status: int) -> None:
    with pytest.raises(InvalidStatus) as info:
        _ws(srv, f"/reject{query}")
    assert info.value.response.status_code == status
    assert _report("accept-after-close") == "RSGIProtocolError"


def test_returning_without_accept_is_403(srv: Any) -> None:
    with pytest.raises(InvalidStatus) as info:
        _ws(srv, "/return-before")
    assert info.value.response.status_code == 403


def test_returning_after_accept_closes_with_1000(srv: Any) -> None:
    with _ws(srv, "/return-after") as ws:
        assert ws.recv(timeout=WAIT) == b"bye"
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=WAIT)
    assert ws.close_code == 1000


def test_errors_before_and_after_accept(srv: Any) -> None:
    with pytest.raises(InvalidStatus) as info:
        _ws(srv, "/raise-before")
    assert info.value.response.status_code == 500
    with _ws(srv, "/raise-after") as ws, pytest.raises(ConnectionClosed):
        ws.recv(timeout=WAIT)
    assert ws.close_code == 1011


def test_concurrent_receive_is_a_protocol_error(srv: Any) -> None:
    with _ws(srv, "/concurrent") as ws:
        assert _report("second-receive") == "RSGIProtocolError"
        ws.send("first")
        assert _report("first-receive") == "first"


def test_accept_twice_is_a_protocol_error(srv: Any) -> None:
    with _ws(srv, "/accept-twice") as ws, pytest.raises(ConnectionClosed):
        ws.recv(timeout=WAIT)
    assert _report("accept-twice") == "RSGIProtocolError"
    assert ws.close_code == 4000


def test_dropped_connection_raises_protocol_closed(srv: Any) -> None:
    with RawWebSocket(srv.port) as raw:
        status, _, _ = raw.handshake("/echo")
        assert status == 101
    assert _report("echo-end") == "ProtocolClosed"


def test_no_ws_serves_the_http_protocol(serve: Serve) -> None:
    with serve(app, interface="rsgi", websockets=False) as server, RawWebSocket(server.port) as raw:
        status, _, body = raw.handshake("/echo")
    assert (status, body) == (200, b"http")
