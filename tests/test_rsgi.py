"""RSGI 1.6 over HTTP/1.1: a real server in a thread, real clients (httpx, raw sockets)."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.apps import rsgi_basic
from tests.apps.rsgi_basic import REPORTS, MultiProtocolApp, app
from tests.helpers import drain, next_report

Serve = Callable[..., contextlib.AbstractContextManager[Any]]
WAIT = 10.0


@pytest.fixture
def srv(serve: Serve, parser: str) -> Iterator[Any]:
    """The routed test app, on both HTTP/1 parsers."""
    _drain_reports()
    with serve(app, interface="rsgi", http1_parser=parser) as server:
        yield server


@pytest.fixture
def client(srv: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=srv.url, timeout=WAIT) as http:
        yield http


def _drain_reports() -> None:
    drain(REPORTS)


def _report(name: str) -> Any:
    return next_report(REPORTS, name)


def _raw_request(port: int, request: bytes) -> bytes:
    """Send ``request`` and read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _split_response(raw: bytes) -> tuple[str, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status_line, headers, body


# -- scope ------------------------------------------------------------------------------
def test_scope_fields(srv: Any, client: httpx.Client) -> None:
    response = client.get("/scope?a=1&b=%20x%2F", headers={"x-custom": "value"})
    assert response.status_code == 200
    scope = response.json()
    assert scope["proto"] == "http"
    assert scope["rsgi_version"] == "1.6"
    assert scope["http_version"] == "1.1"
    assert scope["server"] == f"127.0.0.1:{srv.port}"
    assert scope["client"].startswith("127.0.0.1:")
    assert scope["scheme"] == "http"
    assert scope["method"] == "GET"
    assert scope["path"] == "/scope"
    assert scope["query_string"] == "a=1&b=%20x%2F"
    assert scope["authority"] is None
    assert ["x-custom", "value"] in scope["headers"]
    assert ["host", f"127.0.0.1:{srv.port}"] in scope["headers"]
    assert scope["same_headers_object"] is True


def test_scope_client_is_the_peer_address(srv: Any) -> None:
    with socket.create_connection(("127.0.0.1", srv.port), timeout=WAIT) as sock:
        sock.sendall(b"GET /scope HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
        host, port = sock.getsockname()[:2]
    _, _, body = _split_response(raw)
    assert json.loads(body)["client"] == f"{host}:{port}"


def test_scope_on_unix_socket(serve: Serve, tmp_path: Path) -> None:
    path = tmp_path / "rsgi.sock"
    with (
        serve(app, interface="rsgi", uds=path),
        httpx.Client(transport=httpx.HTTPTransport(uds=str(path)), timeout=WAIT) as http,
    ):
        scope = http.get("http://localhost/scope").json()
    assert scope["server"] == str(path)
    assert scope["client"] == ""
    assert scope["scheme"] == "http"


def test_scope_path_is_percent_decoded(srv: Any, client: httpx.Client) -> None:
    # Unknown routes echo the decoded path in the 404 body.
    response = client.get("/sc%C3%A9ne%20x%FF?q=%C3%A9")
    assert response.status_code == 404
    assert response.text == "no route /scéne x\ufffd"


def test_scope_http_1_0(srv: Any) -> None:
    raw = _raw_request(srv.port, b"GET /scope HTTP/1.0\r\n\r\n")
    status_line, _, body = _split_response(raw)
    assert status_line.startswith("HTTP/1.")
    assert " 200 " in status_line
    assert json.loads(body)["http_version"] == "1"


def test_scope_method_and_empty_query(client: httpx.Client) -> None:
    scope = client.request("DELETE", "/scope").json()
    assert scope["method"] == "DELETE"
    assert scope["query_string"] == ""


def test_scope_authority_of_absolute_form(srv: Any) -> None:
    raw = _raw_request(
        srv.port,
        b"GET http://example.com:8080/scope?x=1 HTTP/1.1\r\n"
        b"host: example.com:8080\r\nconnection: close\r\n\r\n",
    )
    _, _, body = _split_response(raw)
    scope = json.loads(body)
    assert scope["path"] == "/scope"
    assert scope["query_string"] == "x=1"
    assert scope["authority"] == "example.com:8080"


def test_scope_is_immutable(client: httpx.Client) -> None:
    result = client.get("/scope/immutable").json()
    assert result == {
        "refused": ["path", "method", "proto", "extra"],
        "path": "/scope/immutable",
        "proto": "http",
    }


def test_headers_api(srv: Any) -> None:
    request = (
        b"GET /headers HTTP/1.1\r\nhost: h\r\nX-Multi: one\r\nx-single: s\r\n"
        b"x-multi: two\r\nx-latin1: caf\xe9\r\nconnection: close\r\n\r\n"
    )
    _, _, body = _split_response(_raw_request(srv.port, request))
    result = json.loads(body)
    assert result["keys"] == ["host", "x-multi", "x-single", "x-latin1", "connection"]
    assert result["values"] == ["h", "one", "s", "two", "café", "close"]
    assert result["items"] == [
        ["host", "h"],
        ["x-multi", "one"],
        ["x-single", "s"],
        ["x-multi", "two"],
        ["x-latin1", "café"],
        ["connection", "close"],
    ]
    assert result["iter"] == result["keys"]
    assert result["len"] == 5
    assert result["getitem_mixed_case"] == "one"
    assert result["get"] == "one"
    assert result["get_missing"] is None
    assert result["get_default"] == "fallback"
    assert result["get_all"] == ["one", "two"]
    assert result["get_all_missing"] == []
    assert result["contains"] is True
    assert result["contains_missing"] is False
    assert result["missing_key_error"] == "x-missing"
    assert result["latin1"] == "café"
    assert result["dict_keeps_last"] == "two"


# -- request body -----------------------------------------------------------------------
def test_body_whole(client: httpx.Client) -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB
    response = client.post("/echo", content=payload)
    assert response.status_code == 200
    assert response.content == payload
    assert client.post("/echo").content == b""


def test_body_chunked_request(client: httpx.Client) -> None:
    parts = [b"alpha-", b"beta-", b"gamma"]
    response = client.post("/echo", content=iter(parts))
    assert response.content == b"alpha-beta-gamma"


def test_body_iterated(client: httpx.Client) -> None:
    payload = b"z" * 300_000
    response = client.post("/echo/iter", content=payload)
    assert response.content == payload
    assert int(response.headers["x-chunks"]) >= 1
    chunked = client.post("/echo/iter", content=iter([b"a", b"b", b"c"]))
    assert chunked.content == b"abc"
    empty = client.post("/echo/iter")
    assert empty.content == b""


def test_body_consumed_twice_raises_at_call_time(client: httpx.Client) -> None:
    result = client.post("/body/twice", content=b"once").json()
    assert result == {
        "body": "once",
        "outcomes": [
            "RSGIProtocolError: RSGI protocol error",
            "RSGIProtocolError: RSGI protocol error",
        ],
    }


def test_body_call_after_iteration_raises(client: httpx.Client) -> None:
    result = client.post("/body/iter-then-call", content=b"data").json()
    assert result == {"body": "data", "outcome": "RSGI protocol error"}


def test_body_read_after_client_drop_raises_protocol_closed(srv: Any) -> None:
    with socket.create_connection(("127.0.0.1", srv.port), timeout=WAIT) as sock:
        sock.sendall(b"POST /body/disconnect HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\n")
        sock.sendall(b"only ten b")
        _report("body-reading")
    assert _report("body-outcome") == "RSGIProtocolClosed: RSGI transport is closed"


def test_client_disconnect_resolves(srv: Any) -> None:
    with socket.create_connection(("127.0.0.1", srv.port), timeout=WAIT) as sock:
        sock.sendall(b"GET /disconnect HTTP/1.1\r\nhost: x\r\n\r\n")
        _report("waiting")
    _report("disconnected")


def test_client_disconnect_is_a_future_that_asyncio_wait_takes(srv: Any) -> None:
    with socket.create_connection(("127.0.0.1", srv.port), timeout=WAIT) as sock:
        sock.sendall(b"GET /disconnect/wait HTTP/1.1\r\nhost: x\r\n\r\n")
        time.sleep(0.1)
    assert _report("wait-outcome") is True  # the disconnect won, well before 10 s


@pytest.mark.parametrize("http2", [False, True])
def test_response_stream_commits_the_head_at_once(serve: Any, http2: bool) -> None:
    # RSGI 1.6 4.8: "Status and headers are committed right away".
    rsgi_basic.EARLY_GATE.clear()
    with (
        serve(rsgi_basic.app, interface="rsgi") as server,
        httpx.Client(http1=not http2, http2=http2, timeout=WAIT) as http,
        http.stream("GET", f"{server.url}/stream/early") as response,
    ):
        assert response.headers["x-early"] == "1"  # the app has sent no chunk yet
        rsgi_basic.EARLY_GATE.set()
        assert response.read() == b"late"


# -- responses --------------------------------------------------------------------------
def test_response_empty(client: httpx.Client) -> None:
    response = client.get("/empty")
    assert response.status_code == 204
    assert response.headers["x-kind"] == "empty"
    assert response.content == b""


@pytest.mark.parametrize("kind", ["empty", "str", "bytes"])
def test_response_defaults(client: httpx.Client, kind: str) -> None:
    response = client.get("/defaults", params={"kind": kind})
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == "0"


def test_response_stream_defaults(client: httpx.Client) -> None:
    response = client.get("/defaults", params={"kind": "stream"})
    assert response.status_code == 200
    assert response.text == "streamed"


def test_response_str_is_utf8(client: httpx.Client) -> None:
    response = client.get("/str")
    assert response.status_code == 201
    assert response.content == "héllo wörld".encode()
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["content-length"] == str(len("héllo wörld".encode()))
    assert response.headers["server"] == "granian"


def test_response_bytes(client: httpx.Client) -> None:
    response = client.get("/bytes")
    assert response.content == b"\x00\x01raw"
    assert response.headers["content-type"] == "application/octet-stream"
    assert client.get("/bytes/bytearray").content == b"from a bytearray"


def test_response_headers_encoding(srv: Any) -> None:
    raw = _raw_request(
        srv.port, b"GET /headers/out HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
    )
    head = raw.partition(b"\r\n\r\n")[0]
    lines = head.split(b"\r\n")[1:]
    assert b"x-upper: kept, name lower-cased" in lines
    assert lines.count(b"set-cookie: a=1") == 1
    assert lines.index(b"set-cookie: a=1") < lines.index(b"set-cookie: b=2")
    # Non-ASCII values go out UTF-8 encoded, as Granian sends them.
    assert "x-accented: café".encode() in lines
    assert "x-euro: \u20ac".encode() in lines
    assert b"x-tab: a\tb" in lines
    names = [line.partition(b":")[0].lower() for line in lines]
    for dropped in (b"bad name", b"x-injected", b"x-evil", b"x-nul", b"x-surrogate", b""):
        assert dropped not in names


def test_response_own_server_header(client: httpx.Client) -> None:
    response = client.get("/headers/server")
    assert response.headers.get_list("server") == ["custom"]


def test_invalid_status_raises_value_error(client: httpx.Client) -> None:
    result = client.get("/status/invalid").json()
    # Out of 100..999, and a 1xx, which cannot be the response (interim by definition).
    assert result["errors"] == [
        f"Invalid HTTP status code: {status}" for status in (99, 103, 1000, -1, 1000, 100)
    ]


def test_later_responses_are_ignored_and_a_later_stream_raises(client: httpx.Client) -> None:
    # RSGI 1.6 4.3: only the first response counts; later whole-body and file responses
    # are ignored, a later response_stream raises.
    response = client.get("/twice")
    assert response.status_code == 200
    assert response.headers["x-which"] == "first"
    assert response.text == "first"
    assert _report("after-response") == [
        *["no error"] * 5,
        "RSGIProtocolError: RSGI protocol error",
    ]


def test_after_a_stream_a_response_is_ignored_and_a_stream_raises(client: httpx.Client) -> None:
    response = client.get("/stream/twice")
    assert response.status_code == 200
    assert response.text == "no error | RSGI protocol error"


def test_no_response_gives_500_and_is_logged(
    client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="_granian"):
        response = client.get("/no-response")
        deadline = time.monotonic() + WAIT
        while "returned without sending a response" not in caplog.text:
            assert time.monotonic() < deadline
            time.sleep(0.01)
    assert response.status_code == 500
    assert response.content == b"Internal server error"


def test_exception_gives_500_and_is_logged(
    client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="_granian"):
        response = client.get("/raise")
    assert response.status_code == 500
    records = [
        r for r in caplog.records if r.getMessage() == "Application callable raised an exception"
    ]
    assert len(records) == 1
    assert records[0].exc_info is not None
    assert "boom from the RSGI app" in str(records[0].exc_info[1])
    # The connection stays usable.
    assert client.get("/bytes").status_code == 200


# -- files ------------------------------------------------------------------------------
@pytest.fixture
def ten_bytes(tmp_path: Path) -> str:
    path = tmp_path / "ten.txt"
    path.write_bytes(b"0123456789")
    return str(path)


def test_response_file(client: httpx.Client, tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    payload = bytes(range(256)) * 2048  # 512 KiB: several 128 KiB reads
    path.write_bytes(payload)
    response = client.get("/file", params={"path": str(path)})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain"
    assert response.content == payload


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [(0, 10, b"0123456789"), (3, 8, b"34567"), (5, 6, b"5"), (9, 10, b"9"), (4, 100, b"456789")],
)
def test_response_file_range(
    client: httpx.Client, ten_bytes: str, start: int, end: int, expected: bytes
) -> None:
    params: dict[str, Any] = {"path": ten_bytes, "start": start, "end": end}
    response = client.get("/file/range", params=params)
    assert response.status_code == 206
    assert response.headers["x-range"] == f"{start}-{end}"
    assert response.content == expected


@pytest.mark.parametrize(("start", "end"), [(5, 5), (6, 2)])
def test_response_file_range_invalid(
    client: httpx.Client, ten_bytes: str, start: int, end: int
) -> None:
    params: dict[str, Any] = {"path": ten_bytes, "start": start, "end": end}
    response = client.get("/file/range", params=params)
    assert response.status_code == 416
    assert response.text == "ValueError: Invalid range"


def test_response_file_range_negative(client: httpx.Client, ten_bytes: str) -> None:
    params: dict[str, Any] = {"path": ten_bytes, "start": -1, "end": 4}
    response = client.get("/file/range", params=params)
    assert response.status_code == 416
    assert response.text == "OverflowError"


def test_response_file_missing_gives_404(client: httpx.Client, tmp_path: Path) -> None:
    for path in (tmp_path / "missing.txt", tmp_path):  # absent, and a directory
        response = client.get("/file", params={"path": str(path)})
        assert response.status_code == 404
        assert response.text == "Not found"
        assert "content-type" not in response.headers
    params: dict[str, Any] = {"path": str(tmp_path / "missing.txt"), "start": 0, "end": 3}
    response = client.get("/file/range", params=params)
    assert response.status_code == 404


def test_response_file_then_exception_still_sends_the_file(
    client: httpx.Client, ten_bytes: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="_granian"):
        response = client.get("/file/then-raise", params={"path": ten_bytes})
        assert response.status_code == 200
        assert response.content == b"0123456789"
        # The file went out before the exception reached the core: the log line may lag.
        _wait_for_log(caplog, "Application callable raised an exception")


def _wait_for_log(caplog: pytest.LogCaptureFixture, message: str) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if any(record.getMessage() == message for record in caplog.records):
            return
        time.sleep(0.01)
    pytest.fail(f"never logged: {message!r}")


# -- streams ----------------------------------------------------------------------------
def test_response_stream(client: httpx.Client) -> None:
    response = client.get("/stream")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain"
    assert response.text == "one,two,three"


def test_stream_sends_at_call_time(client: httpx.Client) -> None:
    # RSGI 1.6 4.8 (Granian): each send_* queues its chunk when called and returns an
    # awaitable already done, so a send that the app never awaits is not lost.
    assert client.get("/stream/unawaited").text == "sent,without await"


def test_stream_ends_when_app_returns(client: httpx.Client) -> None:
    # A complete chunked body each time, on one kept-alive connection.
    assert client.get("/stream").text == "one,two,three"
    assert client.get("/stream").text == "one,two,three"


def test_stream_send_after_app_returned_raises_protocol_closed(client: httpx.Client) -> None:
    assert client.get("/stream/after-return").text == "done"
    assert _report("late-send") == "RSGIProtocolClosed: RSGI transport is closed"


def test_stream_failure_is_not_a_complete_body(client: httpx.Client) -> None:
    # The app raised mid-stream: the connection is dropped so the truncation shows.
    with pytest.raises(httpx.TransportError):
        client.get("/stream/raise")
    assert client.get("/bytes").status_code == 200


def test_stream_backpressure_and_protocol_closed(srv: Any) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    sock.settimeout(WAIT)
    sock.connect(("127.0.0.1", srv.port))
    try:
        sock.sendall(b"GET /stream/big HTTP/1.1\r\nhost: x\r\n\r\n")
        sent = _wait_until_stalled()
        # The client reads nothing: sends must block long before the whole stream is queued.
        assert 0 < sent < rsgi_basic.STREAM_TOTAL // 8
    finally:
        sock.close()  # unread data pending: the peer sees a reset
    assert _report("stream-outcome") == "RSGIProtocolClosed: RSGI transport is closed"


def _wait_until_stalled() -> int:
    """The app's sent-bytes count once it stopped moving (bounded wait)."""
    deadline = time.monotonic() + WAIT
    last, steady = -1, 0
    while time.monotonic() < deadline:
        sent = rsgi_basic.stream_progress["sent"]
        steady = steady + 1 if sent == last and sent > 0 else 0
        if steady >= 5:
            return sent
        last = sent
        time.sleep(0.05)
    pytest.fail(f"the stream never stalled (sent {last} bytes)")


# -- application forms and lifecycle ----------------------------------------------------
def test_rsgi_method_and_lifecycle_hooks(serve: Serve) -> None:
    multi = MultiProtocolApp()
    with serve(multi, interface="rsgi") as server:
        assert multi.events[0].startswith("init:")
        assert len(multi.events) == 1
        with httpx.Client(base_url=server.url, timeout=WAIT) as http:
            response = http.get("/")
        assert response.status_code == 200
        assert response.text == "served by __rsgi__"
    assert multi.events[1] == "request"
    assert multi.events[2].startswith("del:")
    assert len(multi.events) == 3


def test_app_returning_an_awaitable(serve: Serve) -> None:
    with serve(rsgi_basic.returns_awaitable, interface="rsgi") as server:
        response = httpx.get(f"{server.url}/bytes", timeout=WAIT)
    assert response.content == b"\x00\x01raw"


def test_lifecycle_hooks_run_in_the_worker_on_a_stopped_loop(
    granian_proc: Callable[..., Any], tmp_path: Path
) -> None:
    record = tmp_path / "lifecycle.txt"
    proc = granian_proc(
        "--interface",
        "rsgi",
        "tests.apps.rsgi_lifecycle:app",
        env={"RSGI_LIFECYCLE_FILE": str(record)},
    )
    response = httpx.get(proc.url, timeout=WAIT)
    assert response.text == "lifecycle"
    code, output = proc.stop()
    assert code == 0, output
    assert record.read_text().splitlines() == [
        "init running=False ran",
        "request",
        "del running=False ran",
    ]
