"""The ASGI adapter's HTTP cycle, against a real server over real sockets."""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.apps.asgi_basic import MISUSE, App
from tests.helpers import connect, read_until_eof

WAIT = 10.0


@pytest.fixture
def app() -> App:
    return App()


@pytest.fixture
def srv(serve: Callable[..., Any], app: App, parser: str) -> Iterator[Any]:
    """The app served with each HTTP/1 parser: body framing differs between them."""
    with serve(app, interface="asgi", http1_parser=parser) as handle:
        yield handle


@pytest.fixture
def client(srv: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=srv.url, timeout=WAIT) as http:
        yield http


def _connect(port: int) -> socket.socket:
    return connect(port)


def _read_until_eof(sock: socket.socket) -> bytes:
    return read_until_eof(sock)


def _raw_scope(port: int, request: bytes) -> dict[str, Any]:
    """The scope the /scope route reports for ``request``, sent as raw bytes."""
    with _connect(port) as sock:
        sock.sendall(request)
        raw = _read_until_eof(sock)
    return dict(json.loads(raw.split(b"\r\n\r\n", 1)[1]))


def _read_until(sock: socket.socket, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before {marker!r}; got {data!r}"
        data += chunk
    return data


# -- scope -------------------------------------------------------------------------------
def test_scope_has_every_key_with_asgi_types(client: httpx.Client, srv: Any) -> None:
    response = client.get("/a%20b/scope?x=1&y=%20", headers={"x-custom": "Value"})
    scope = response.json()
    assert response.status_code == 200
    assert set(scope) == {
        "type", "asgi", "http_version", "method", "scheme", "path", "raw_path",
        "query_string", "root_path", "headers", "client", "server", "extensions", "state_keys",
    }  # fmt: skip
    assert scope["type"] == "http"
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.3"}
    assert scope["http_version"] == "1.1"
    assert scope["method"] == "GET"
    assert scope["scheme"] == "http"
    assert scope["path"] == "/a b/scope"
    assert scope["raw_path"] == {"bytes": "/a%20b/scope"}
    assert scope["query_string"] == {"bytes": "x=1&y=%20"}
    assert scope["root_path"] == ""
    assert scope["extensions"] == {"http.response.pathsend": {}}
    headers = [(name["bytes"], value["bytes"]) for name, value in scope["headers"]]
    assert ("x-custom", "Value") in headers
    assert ("host", f"127.0.0.1:{srv.port}") in headers
    assert all(name == name.lower() for name, _ in headers)
    client_host, client_port = scope["client"]
    assert client_host == "127.0.0.1"
    assert isinstance(client_port, int)
    assert client_port > 0
    assert client_port != srv.port
    assert scope["server"] == ["127.0.0.1", srv.port]
    assert scope["state_keys"] == ["greeting", "shared"]


def test_scope_headers_are_byte_tuples_in_received_order(srv: Any) -> None:
    scope = _raw_scope(
        srv.port,
        b"GET /scope HTTP/1.1\r\nHost: example.test\r\nX-B: 2\r\nX-A: 1\r\n"
        b"Connection: close\r\n\r\n",
    )
    names = [name["bytes"] for name, _ in scope["headers"]]
    assert names == ["host", "x-b", "x-a", "connection"]


def test_scope_host_of_an_absolute_form_target_replaces_the_host_header(srv: Any) -> None:
    # RFC 9112 3.2.2: the server ignores Host when the target names the host; ASGI puts
    # the authority first, as host.
    scope = _raw_scope(
        srv.port,
        b"GET http://example.test:8080/scope HTTP/1.1\r\nX-B: 2\r\nHost: other\r\n"
        b"Connection: close\r\n\r\n",
    )
    pairs = [(name["bytes"], value["bytes"]) for name, value in scope["headers"]]
    assert pairs == [("host", "example.test:8080"), ("x-b", "2"), ("connection", "close")]
    # Any userinfo is no part of the host: the app must not route or log by credentials.
    scope = _raw_scope(
        srv.port,
        b"GET http://user:secret@example.test/scope HTTP/1.1\r\nHost: example.test\r\n"
        b"Connection: close\r\n\r\n",
    )
    assert scope["headers"][0] == [{"bytes": "host"}, {"bytes": "example.test"}]


def test_scope_asgi_dict_is_the_requests_own(client: httpx.Client) -> None:
    assert client.get("/mutate-asgi").status_code == 204
    assert client.get("/scope").json()["asgi"] == {"version": "3.0", "spec_version": "2.3"}


def test_response_headers_may_be_any_iterable_of_pairs(client: httpx.Client) -> None:
    response = client.get("/headers-iterable")
    assert response.status_code == 200
    assert response.headers.get_list("x-generated") == ["0", "1"]


def test_scope_http_1_0(srv: Any) -> None:
    with _connect(srv.port) as sock:
        sock.sendall(b"GET /scope HTTP/1.0\r\n\r\n")
        raw = _read_until_eof(sock)
    assert raw.startswith(b"HTTP/1.")
    scope = json.loads(raw.split(b"\r\n\r\n", 1)[1])
    assert scope["http_version"] == "1.0"


def test_scope_root_path_from_url_path_prefix(serve: Callable[..., Any], app: App) -> None:
    with serve(app, interface="asgi", url_path_prefix="/api") as srv:
        scope = httpx.get(f"{srv.url}/api/scope", timeout=WAIT).json()
    assert scope["root_path"] == "/api"
    assert scope["path"] == "/api/scope"  # Granian keeps the prefix in ``path``
    assert scope["raw_path"] == {"bytes": "/api/scope"}


def test_scope_on_unix_socket(serve: Callable[..., Any], app: App, tmp_path: Path) -> None:
    path = str(tmp_path / "asgi.sock")
    with (
        serve(app, interface="asgi", uds=path),
        httpx.Client(transport=httpx.HTTPTransport(uds=path), timeout=WAIT) as http,
    ):
        scope = http.get("http://localhost/scope").json()
    assert scope["server"] == [path, None]
    assert scope["client"] is None


def test_state_is_a_shallow_copy_per_request(client: httpx.Client, app: App) -> None:
    assert app.lifespan_events.get(timeout=WAIT) == "lifespan.startup"
    first = client.get("/state").json()
    second = client.get("/state").json()
    assert first == {"greeting": "hello", "shared": []}
    # The request's rebinding did not leak; its in-place change of a shared value did.
    assert second == {"greeting": "hello", "shared": [1]}


def test_lifespan_scope_and_shutdown(serve: Callable[..., Any], app: App) -> None:
    with serve(app, interface="asgi"):
        assert app.lifespan_events.get(timeout=WAIT) == "lifespan.startup"
    assert app.lifespan_events.get(timeout=WAIT) == "lifespan.shutdown"
    (scope,) = app.lifespan_scopes
    assert scope["type"] == "lifespan"
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.3"}
    assert scope["state"] == {"greeting": "hello", "shared": []}


def test_asginl_skips_lifespan(serve: Callable[..., Any], app: App) -> None:
    with serve(app, interface="asginl") as srv:
        response = httpx.get(f"{srv.url}/state", timeout=WAIT)
    assert response.json() == {"greeting": None, "shared": []}
    assert app.lifespan_scopes == []
    assert app.lifespan_events.empty()


# -- request body --------------------------------------------------------------------------
def test_bodyless_request_gets_one_final_empty_message(client: httpx.Client) -> None:
    response = client.get("/echo")
    assert response.content == b""
    assert response.headers["x-messages"] == "1"


def test_body_with_content_length(client: httpx.Client) -> None:
    payload = bytes(range(256)) * 1000
    response = client.post("/echo", content=payload)
    assert response.content == payload


def test_chunked_upload_streams_in_several_messages(srv: Any, app: App) -> None:
    with _connect(srv.port) as sock:
        sock.sendall(
            b"POST /upload-steps HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
            b"Connection: close\r\n\r\n5\r\nhello\r\n"
        )
        first = app.events.get(timeout=WAIT)
        assert first == {"type": "http.request", "body": b"hello", "more_body": True}
        sock.sendall(b"6\r\n world\r\n0\r\n\r\n")
        raw = _read_until_eof(sock)
    head, body = raw.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200")
    assert body == b"hello world"
    messages = [first]
    while not app.events.empty():
        messages.append(app.events.get_nowait())
    assert len(messages) >= 2
    assert all(message["type"] == "http.request" for message in messages)
    assert [message["more_body"] for message in messages[:-1]] == [True] * (len(messages) - 1)
    assert messages[-1]["more_body"] is False


def test_streamed_upload_with_httpx(client: httpx.Client) -> None:
    parts = [b"a" * 10000, b"b" * 20000, b"c" * 30000]
    response = client.post("/echo", content=iter(parts))
    assert response.content == b"".join(parts)


# -- disconnects ---------------------------------------------------------------------------
def test_disconnect_after_response(client: httpx.Client, app: App) -> None:
    response = client.get("/disconnect-after-response")
    assert response.content == b"done"
    assert app.events.get(timeout=WAIT) == "http.disconnect"
    assert app.events.get(timeout=WAIT) == "http.disconnect"


def test_disconnect_when_client_drops_while_waiting(srv: Any, app: App) -> None:
    with _connect(srv.port) as sock:
        sock.sendall(b"GET /wait-disconnect HTTP/1.1\r\nHost: t\r\n\r\n")
        assert app.events.get(timeout=WAIT) == ("body", "http.request", False)
    assert app.events.get(timeout=WAIT) == ("next", "http.disconnect")
    assert app.events.get(timeout=WAIT) == ("sent", "ok")  # sends after it were dropped


def test_disconnect_when_client_drops_mid_upload(srv: Any, app: App) -> None:
    with _connect(srv.port) as sock:
        sock.sendall(b"POST /partial-upload HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nabc")
    types = app.events.get(timeout=WAIT)
    assert types[-1] == "http.disconnect"
    assert set(types[:-1]) <= {"http.request"}


# -- responses -----------------------------------------------------------------------------
def test_whole_response_has_content_length(client: httpx.Client) -> None:
    response = client.get("/headers")
    assert response.status_code == 201
    assert response.content == b"made"
    assert response.headers["content-length"] == "4"
    assert response.headers["content-type"] == "text/plain"
    assert response.headers["x-tuple"] == "1"
    assert response.headers.get_list("set-cookie") == ["a=1", "b=2"]
    assert response.headers["server"] == "granian"


def test_start_then_empty_body(client: httpx.Client) -> None:
    response = client.get("/start-only")
    assert response.status_code == 204
    assert response.content == b""


def test_streaming_response(client: httpx.Client) -> None:
    response = client.get("/stream")
    assert response.status_code == 200
    assert response.content == b"".join(f"chunk{index};".encode() for index in range(5))
    assert response.headers["transfer-encoding"] == "chunked"


def test_streaming_response_reaches_client_before_it_ends(srv: Any, app: App) -> None:
    with _connect(srv.port) as sock:
        sock.sendall(b"GET /stream-wait HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        early = _read_until(sock, b"first;")
        app.proceed.set()
        rest = _read_until_eof(sock)
    assert early.startswith(b"HTTP/1.1 200")
    assert b"second" in rest
    assert (early + rest).endswith(b"0\r\n\r\n")


def test_large_streaming_response_with_backpressure(client: httpx.Client) -> None:
    with client.stream("GET", "/stream-big") as response:
        total = sum(len(chunk) for chunk in response.iter_bytes())
    assert total == 64 * 65536


def test_pathsend(client: httpx.Client, tmp_path: Path) -> None:
    payload = bytes(range(256)) * 4096
    target = tmp_path / "payload.bin"
    target.write_bytes(payload)
    response = client.get(f"/pathsend?{target}")
    assert response.status_code == 200
    assert response.content == payload
    assert response.headers["content-length"] == str(len(payload))
    assert response.headers["content-type"] == "application/octet-stream"


def test_pathsend_missing_file_is_500(client: httpx.Client, tmp_path: Path) -> None:
    response = client.get(f"/pathsend?{tmp_path / 'missing.bin'}")
    assert response.status_code == 500


# -- failures ------------------------------------------------------------------------------
def test_exception_before_start_is_500(client: httpx.Client) -> None:
    response = client.get("/raise-before-start")
    assert response.status_code == 500
    assert response.text == "Internal server error"
    assert client.get("/headers").status_code == 201  # the connection is still usable


def test_exception_after_start_drops_connection(srv: Any) -> None:
    with _connect(srv.port) as sock:
        sock.sendall(b"GET /raise-after-start HTTP/1.1\r\nHost: t\r\n\r\n")
        raw = _read_until_eof(sock)
    assert raw.startswith(b"HTTP/1.1 200")
    assert b"partial" in raw
    assert not raw.endswith(b"0\r\n\r\n")  # the body was cut, not finished


def test_return_without_response_is_500_and_is_logged(
    client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="_granian"):
        response = client.get("/return-without-response")
        _wait_for_log(caplog, "Application callable returned without sending a response")
    assert response.status_code == 500
    assert response.text == "Internal server error"  # as Granian's ASGI answers it


def _wait_for_log(caplog: pytest.LogCaptureFixture, text: str) -> None:
    """The record is written on the server thread, after the response went out."""
    deadline = time.monotonic() + WAIT
    while text not in caplog.text:
        assert time.monotonic() < deadline, f"no log line {text!r}"
        time.sleep(0.01)


@pytest.mark.parametrize("case", sorted(set(MISUSE) - {"after-complete"}))
def test_protocol_misuse_is_500_with_clear_error(client: httpx.Client, app: App, case: str) -> None:
    response = client.get(f"/misuse?{case}")
    assert response.status_code == 500
    error = app.events.get(timeout=WAIT)
    assert "ASGI" in error


@pytest.mark.parametrize(
    ("case", "fragment"),
    [
        ("body-before-start", "flow error"),
        ("start-twice", "flow error"),
        ("unknown-type", "Unsupported ASGI message"),
        ("header-str", "bytes"),
        ("status-not-int", "status"),
        ("status-interim", "from 200 to 999"),
        ("status-switching", "from 200 to 999"),
        ("status-too-big", "from 200 to 999"),
        ("body-str", "body must be bytes"),
    ],
)
def test_protocol_misuse_messages(client: httpx.Client, app: App, case: str, fragment: str) -> None:
    client.get(f"/misuse?{case}")
    assert fragment in app.events.get(timeout=WAIT)


def test_message_after_complete_raises_but_response_stands(client: httpx.Client, app: App) -> None:
    response = client.get("/misuse?after-complete")
    assert response.status_code == 200
    assert response.content == b"ok"
    assert "flow error" in app.events.get(timeout=WAIT)


def test_unknown_route_and_keep_alive_reuse(client: httpx.Client) -> None:
    for _ in range(3):
        assert client.get("/nothing-here").status_code == 404
