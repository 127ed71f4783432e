"""The WSGI adapter (PEP 3333), against a real server over real sockets."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.apps import wsgi_basic
from tests.apps.wsgi_basic import REPORTS, stream_progress
from tests.helpers import connect, drain, read_until_eof

WAIT = 10.0


@pytest.fixture(autouse=True)
def _empty_reports() -> Iterator[None]:
    _drain_reports()
    yield
    _drain_reports()


def _drain_reports() -> None:
    drain(REPORTS)


def _report(kind: str) -> Any:
    """The next report of ``kind`` from the app (others are dropped)."""
    deadline = time.monotonic() + WAIT
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {kind!r} report from the app"
        found, value = REPORTS.get(timeout=remaining)
        if found == kind:
            return value


@pytest.fixture(scope="module", params=["h11", "httptools"])
def srv(request: pytest.FixtureRequest) -> Iterator[Any]:
    """One server per HTTP/1 parser, shared by the module's tests."""
    from tests.conftest import run_server

    with run_server(wsgi_basic.app, interface="wsgi", http1_parser=request.param) as handle:
        yield handle


@pytest.fixture
def client(srv: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=srv.url, timeout=WAIT) as http:
        yield http


def _connect(port: int) -> socket.socket:
    return connect(port)


def _read_until_eof(sock: socket.socket) -> bytes:
    return read_until_eof(sock)


def _raw_exchange(port: int, request: bytes) -> bytes:
    with _connect(port) as sock:
        sock.sendall(request)
        return _read_until_eof(sock)


def _head_and_body(raw: bytes) -> tuple[list[str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return head.decode("latin-1").split("\r\n"), body


def _raw_environ(port: int, request: bytes) -> dict[str, Any]:
    """The environ the /environ route reports for ``request``, sent as raw bytes."""
    _, body = _head_and_body(_raw_exchange(port, request))
    return dict(json.loads(body))


# -- environ ------------------------------------------------------------------------------
def test_environ_has_every_pep3333_key(client: httpx.Client, srv: Any) -> None:
    response = client.post(
        "/environ?a=1&b=%C3%A9",
        content=b"12345",
        headers={"content-type": "text/x-test", "x-custom": "value"},
    )
    assert response.status_code == 200
    environ = response.json()
    assert environ["REQUEST_METHOD"] == "POST"
    assert environ["SCRIPT_NAME"] == ""
    assert environ["PATH_INFO"] == "/environ"
    assert environ["QUERY_STRING"] == "a=1&b=%C3%A9"
    assert environ["CONTENT_TYPE"] == "text/x-test"
    assert environ["CONTENT_LENGTH"] == "5"
    assert environ["SERVER_NAME"] == "127.0.0.1"
    assert environ["SERVER_PORT"] == str(srv.port)
    assert environ["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert environ["REMOTE_ADDR"] == "127.0.0.1"
    assert int(environ["REMOTE_PORT"]) > 0
    assert environ["HTTP_HOST"] == f"127.0.0.1:{srv.port}"
    assert environ["HTTP_X_CUSTOM"] == "value"
    assert "HTTP_CONTENT_TYPE" not in environ
    assert "HTTP_CONTENT_LENGTH" not in environ
    assert environ["GATEWAY_INTERFACE"] == "CGI/1.1"
    assert environ["SERVER_SOFTWARE"] == "Granian"
    assert environ["wsgi.version"] == [1, 0]
    assert environ["wsgi.url_scheme"] == "http"
    assert environ["wsgi.input"] == "<WSGIInput>"
    assert environ["wsgi.errors is sys.stderr"] is True
    assert environ["wsgi.multithread"] is True
    assert environ["wsgi.multiprocess"] is False
    assert environ["wsgi.run_once"] is False
    assert environ["wsgi.file_wrapper name"] == "FileWrapper"
    assert environ["wsgi.input_terminated"] is True


def test_environ_connection_keys_follow_each_connection(srv: Any) -> None:
    # Requests of several keep-alive connections interleave; each environ describes the
    # connection its request came on.
    sockets = [_connect(srv.port) for _ in range(4)]
    try:
        for _ in range(3):
            for sock in sockets:
                sock.sendall(b"GET /environ HTTP/1.1\r\nHost: h\r\n\r\n")
                environ = json.loads(_one_response_body(sock))
                assert int(environ["REMOTE_PORT"]) == sock.getsockname()[1]
    finally:
        for sock in sockets:
            sock.close()


def _one_response_body(sock: socket.socket) -> bytes:
    """The body of the next response on a keep-alive connection (it has a content-length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return body


def test_environ_values_are_native_strings(client: httpx.Client) -> None:
    environ = client.get("/environ").json()
    for key, value in environ.items():
        if key.isupper():
            assert isinstance(value, str), key


def test_environ_copies_the_process_environment(client: httpx.Client) -> None:
    environ = client.get("/environ").json()
    assert environ["PATH"] == os.environ["PATH"]


def test_environ_without_body_headers(client: httpx.Client) -> None:
    environ = client.get("/environ").json()
    assert "CONTENT_TYPE" not in environ
    assert "CONTENT_LENGTH" not in environ
    assert environ["QUERY_STRING"] == ""


def test_environ_path_info_is_decoded_bytes_as_latin1(srv: Any) -> None:
    raw = _raw_exchange(
        srv.port,
        b"GET /%C3%A9t%C3%A9%20x?q=%20 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    )
    head, body = _head_and_body(raw)
    # PATH_INFO routes to 404 here: the app echoes it back in latin-1.
    assert head[0] == "HTTP/1.1 404 Not Found"
    assert body.decode("latin-1") == "no route for " + "/été x".encode().decode("latin-1")


def test_environ_repeated_headers_and_cookies_are_joined(srv: Any) -> None:
    environ = _raw_environ(
        srv.port,
        b"GET /environ HTTP/1.1\r\nHost: h\r\nX-Multi: one\r\nX-Multi: two\r\n"
        b"Cookie: a=1\r\nCookie: b=2\r\nConnection: close\r\n\r\n",
    )
    assert environ["HTTP_X_MULTI"] == "one,two"
    assert environ["HTTP_COOKIE"] == "a=1; b=2"
    assert environ["HTTP_HOST"] == "h"


def test_environ_http_1_0(srv: Any) -> None:
    raw = _raw_exchange(srv.port, b"GET /environ HTTP/1.0\r\n\r\n")
    head, body = _head_and_body(raw)
    assert head[0].startswith("HTTP/1.")
    environ = json.loads(body)
    assert environ["SERVER_PROTOCOL"] == "HTTP/1.0"
    assert "HTTP_HOST" not in environ


def test_environ_host_from_an_absolute_form_target(srv: Any) -> None:
    environ = _raw_environ(srv.port, b"GET http://example.test:8080/environ?x=1 HTTP/1.0\r\n\r\n")
    assert environ["HTTP_HOST"] == "example.test:8080"
    assert environ["PATH_INFO"] == "/environ"
    assert environ["QUERY_STRING"] == "x=1"


def test_an_absolute_form_target_wins_over_the_host_header(srv: Any) -> None:
    # RFC 9112 3.2.2: the server ignores Host when the target names the host.
    environ = _raw_environ(
        srv.port,
        b"GET http://example.test:8080/environ HTTP/1.1\r\nHost: other\r\n"
        b"Connection: close\r\n\r\n",
    )
    assert environ["HTTP_HOST"] == "example.test:8080"


def test_environ_header_values_are_latin1(srv: Any) -> None:
    environ = _raw_environ(
        srv.port,
        b"GET /environ HTTP/1.1\r\nHost: h\r\nX-Latin: caf\xe9\r\nConnection: close\r\n\r\n",
    )
    assert environ["HTTP_X_LATIN"] == "caf\xe9"


def test_a_header_name_with_an_underscore_is_dropped(srv: Any) -> None:
    # X_Under would otherwise pass for X-Under (both are HTTP_X_UNDER), past a proxy that
    # only sets or strips the dash form.
    environ = _raw_environ(
        srv.port,
        b"GET /environ HTTP/1.1\r\nHost: h\r\nX_Under: spoofed\r\nX-Under: real\r\n"
        b"Connection: close\r\n\r\n",
    )
    assert environ["HTTP_X_UNDER"] == "real"


def test_environ_url_path_prefix(serve: Callable[..., Any]) -> None:
    with (
        serve(wsgi_basic.app, interface="wsgi", url_path_prefix="/api") as srv,
        httpx.Client(base_url=srv.url, timeout=WAIT) as http,
    ):
        environ = http.get("/api/environ").json()
        assert environ["SCRIPT_NAME"] == "/api"
        assert environ["PATH_INFO"] == "/environ"
        # A path outside the prefix is left whole, with no SCRIPT_NAME: PEP 3333 rebuilds
        # the URL from both, and it must be the one the client asked for.
        outside = http.get("/apiother")
        assert outside.text == "no route for /apiother"
        environ = http.get("/environ").json()
        assert (environ["SCRIPT_NAME"], environ["PATH_INFO"]) == ("", "/environ")
        # The prefix is matched as sent: an encoded slash does not end it.
        assert http.get("/api%2Fenviron").text == "no route for /api/environ"


def test_environ_on_unix_socket(serve: Callable[..., Any], tmp_path: Path) -> None:
    path = tmp_path / "wsgi.sock"
    with serve(wsgi_basic.app, interface="wsgi", uds=path):
        transport = httpx.HTTPTransport(uds=str(path))
        with httpx.Client(transport=transport, base_url="http://localhost", timeout=WAIT) as http:
            environ = http.get("/environ").json()
    assert environ["REMOTE_ADDR"] == ""
    assert environ["HTTP_HOST"] == "localhost"
    assert environ["PATH_INFO"] == "/environ"


# -- wsgi.input ---------------------------------------------------------------------------
BODY = b"line one\nline two\n\nlast line without newline"
BODY_LINES = [b"line one\n", b"line two\n", b"\n", b"last line without newline"]


def _chunked(data: bytes, size: int = 5) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def _read(client: httpx.Client, mode: str, chunked: bool, size: int = 7) -> dict[str, Any]:
    content: Any = _chunked(BODY) if chunked else BODY
    response = client.post(f"/read?mode={mode}&size={size}", content=content)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["after"] == ""
    return {"pieces": [p.encode("latin-1") for p in result["pieces"]]}


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_input_read_all(client: httpx.Client, chunked: bool) -> None:
    assert _read(client, "all", chunked)["pieces"] == [BODY]
    assert _read(client, "none", chunked)["pieces"] == [BODY]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("size", [1, 7, 64, 100_000])
def test_input_read_sized(client: httpx.Client, chunked: bool, size: int) -> None:
    pieces = _read(client, "sized", chunked, size)["pieces"]
    assert b"".join(pieces) == BODY
    # Every read but the last returns exactly the size asked for.
    assert all(len(piece) == size for piece in pieces[:-1])
    assert 0 < len(pieces[-1]) <= size


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_input_readline(client: httpx.Client, chunked: bool) -> None:
    assert _read(client, "readline", chunked)["pieces"] == BODY_LINES


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_input_readline_with_size(client: httpx.Client, chunked: bool) -> None:
    pieces = _read(client, "readline-sized", chunked, 4)["pieces"]
    assert b"".join(pieces) == BODY
    assert all(len(piece) <= 4 for piece in pieces)
    assert pieces[:3] == [b"line", b" one", b"\n"]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_input_readlines(client: httpx.Client, chunked: bool) -> None:
    assert _read(client, "readlines", chunked)["pieces"] == BODY_LINES
    # With a hint, lines are returned until their total size reaches it; the rest stays.
    content: Any = _chunked(BODY) if chunked else BODY
    result = client.post("/read?mode=readlines-hint&size=10", content=content).json()
    assert result["pieces"] == [line.decode() for line in BODY_LINES[:2]]
    assert result["after"] == b"".join(BODY_LINES[2:]).decode()


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_input_iteration(client: httpx.Client, chunked: bool) -> None:
    assert _read(client, "iter", chunked)["pieces"] == BODY_LINES


def test_input_empty_body(client: httpx.Client) -> None:
    for mode in ("all", "sized", "readline", "readlines", "iter"):
        response = client.get(f"/read?mode={mode}")
        assert response.json() == {"pieces": [] if mode != "all" else [""], "after": ""}


def test_input_large_upload_is_read_completely(client: httpx.Client) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    import hashlib

    expected = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    assert client.post("/upload-hash", content=data).json() == expected
    assert client.post("/upload-hash", content=_chunked(data, 100_000)).json() == expected


def test_input_small_body_arriving_in_pieces_is_read_whole(srv: Any) -> None:
    # A small announced body is read on the loop before the app runs: slow pieces wait
    # there, and the app reads the whole body.
    with _connect(srv.port) as sock:
        sock.sendall(
            b"POST /upload-report HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n"
            b"Connection: close\r\n\r\nhel"
        )
        time.sleep(0.1)
        sock.sendall(b"lo wo")
        time.sleep(0.1)
        sock.sendall(b"rl")
        raw = _read_until_eof(sock)
    _, body = _head_and_body(raw)
    assert json.loads(body) == {"size": 10}


def test_input_bodies_that_came_with_their_heads(srv: Any) -> None:
    # Each body is wholly in the bytes read with its head (one write): pipelined, with
    # Content-Length and chunked, and one with a needless 100-continue it did not wait for.
    requests = [
        b"POST /read?mode=all HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nfirst",
        b"POST /read?mode=all HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nsec\r\n3\r\nond\r\n0\r\n\r\n",
        b"POST /read?mode=all HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
        b"Expect: 100-continue\r\n\r\nthird",
        b"POST /read?mode=all HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n"
        b"Connection: close\r\n\r\n",
    ]
    raw = _raw_exchange(srv.port, b"".join(requests))
    assert b"100 Continue" not in raw
    bodies = []
    for response in raw.split(b"HTTP/1.1 ")[1:]:
        head, body = _head_and_body(b"HTTP/1.1 " + response)
        assert head[0] == "HTTP/1.1 200 OK"
        bodies.append(json.loads(body))
    assert bodies == [
        {"pieces": [piece], "after": ""} for piece in ("first", "second", "third", "")
    ]


def test_input_malformed_chunked_body_that_came_with_its_head_is_a_400(srv: Any) -> None:
    raw = _raw_exchange(
        srv.port,
        b"POST /upload-report HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"zz\r\nabc\r\n0\r\n\r\n",
    )
    assert raw.startswith(b"HTTP/1.1 400 ")
    # A chunked body is streamed to the app, whose read fails like a client gone.
    assert _report("read-error") == ("ClientDisconnected", 0)


def test_input_client_leaving_during_a_small_body_never_calls_the_app(srv: Any) -> None:
    drain(REPORTS)
    with _connect(srv.port) as sock:
        sock.sendall(b"POST /upload-report HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nhel")
    time.sleep(0.2)  # the server sees the first connection go
    # The next request on another connection is served; the first never reached the app.
    with _connect(srv.port) as sock:
        sock.sendall(
            b"POST /upload-report HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n"
            b"Connection: close\r\n\r\nok"
        )
        _, body = _head_and_body(_read_until_eof(sock))
    assert json.loads(body) == {"size": 2}
    assert REPORTS.get_nowait() == ("read-complete", 2)
    assert REPORTS.empty()


def test_input_expect_100_continue(srv: Any) -> None:
    with _connect(srv.port) as sock:
        sock.sendall(
            b"POST /upload-report HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
            b"Expect: 100-continue\r\nConnection: close\r\n\r\n"
        )
        interim = sock.recv(1024)
        assert interim.startswith(b"HTTP/1.1 100 Continue\r\n")
        sock.sendall(b"hello")
        raw = interim + _read_until_eof(sock)
    _, body = _head_and_body(raw.partition(b"\r\n\r\n")[2])
    assert json.loads(body) == {"size": 5}
    assert _report("read-complete") == 5


def test_input_expect_100_continue_with_a_streamed_body(srv: Any) -> None:
    # Past the prefetch limit the body is streamed to the app's thread: the interim
    # answer still waits for the app's first read, and the whole body arrives.
    size = 300_000
    with _connect(srv.port) as sock:
        sock.sendall(
            b"POST /upload-report HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n"
            b"Expect: 100-continue\r\nConnection: close\r\n\r\n" % size
        )
        interim = sock.recv(1024)
        assert interim.startswith(b"HTTP/1.1 100 Continue\r\n")
        sock.sendall(b"x" * size)
        raw = interim + _read_until_eof(sock)
    _, body = _head_and_body(raw.partition(b"\r\n\r\n")[2])
    assert json.loads(body) == {"size": size}
    assert _report("read-complete") == size


def test_input_reads_only_a_bounded_amount_ahead_of_a_stalled_app(srv: Any) -> None:
    # The app reads 1 KiB and stops: the server reads a few chunks ahead, then stops
    # reading, so the client's sends stall long before its 64 MiB are out.
    wsgi_basic.READER_RELEASE.clear()
    total = 64 * 1024 * 1024
    block = b"x" * (256 * 1024)
    sent = 0
    with _connect(srv.port) as sock:
        sock.sendall(
            b"POST /upload-stalled-reader HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n" % total
        )
        sock.settimeout(0.5)
        try:
            while sent < total:
                sent += sock.send(block)
        except TimeoutError:
            pass  # the server stopped reading (kernel buffers full)
        assert _report("read-first") == 1024
        assert sent < total // 3  # kernel buffers + a bounded read-ahead, not the upload
        wsgi_basic.READER_RELEASE.set()
    # The client left with the body incomplete: the app's read fails, nothing else breaks.
    kind, first = _report("read-error")
    assert (kind, first) == ("ClientDisconnected", 1024)


def test_input_unread_body_does_not_break_keep_alive(client: httpx.Client) -> None:
    for _ in range(3):
        response = client.post("/hello", content=os.urandom(200_000))
        assert response.text == "Hello, world!"


def test_input_client_gone_mid_upload(
    srv: Any, client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    with _connect(srv.port) as sock:
        sock.sendall(
            b"POST /upload-report HTTP/1.1\r\nHost: h\r\nContent-Length: 1000000\r\n\r\n"
            + b"x" * 1000
        )
        # Vanish with the body incomplete: the app's read fails whenever it gets there.
    kind, size = _report("read-error")
    assert kind == "ClientDisconnected"
    assert size <= 1000
    # Not an application error: nothing answered, and the worker keeps serving.
    assert client.get("/hello").status_code == 200
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


# -- responses ----------------------------------------------------------------------------
def test_list_body_is_one_response_with_content_length(client: httpx.Client) -> None:
    response = client.get("/hello")
    assert response.status_code == 200
    assert response.text == "Hello, world!"
    assert response.headers["content-length"] == "13"
    assert response.headers["content-type"] == "text/plain"
    assert response.headers["server"] == "granian"
    assert "transfer-encoding" not in response.headers


def test_tuple_body_status_and_headers(client: httpx.Client) -> None:
    response = client.get("/tuple")
    assert response.status_code == 201
    assert response.reason_phrase == "Created"
    assert response.text == "tuple"
    assert response.headers["x-custom"] == "yes"
    assert response.headers["set-cookie"] == "a=1"
    assert response.headers["content-length"] == "5"


def test_empty_body(client: httpx.Client) -> None:
    response = client.get("/empty")
    assert response.status_code == 204
    assert response.content == b""


def test_generator_body_is_streamed(client: httpx.Client) -> None:
    with client.stream("GET", "/generator?n=50") as response:
        assert response.status_code == 200
        assert response.headers.get("transfer-encoding") == "chunked"
        body = b"".join(response.iter_bytes())
    assert body == b"".join(f"chunk-{i};".encode() for i in range(50))


def test_start_response_called_during_iteration(client: httpx.Client) -> None:
    response = client.get("/lazy-start")
    assert response.status_code == 200
    assert response.text == "late start"


def test_write_callable(client: httpx.Client) -> None:
    response = client.get("/write")
    assert response.status_code == 200
    assert response.text == "written-1;written-2;returned"
    assert client.get("/write-only").text == "only written"


def test_app_content_length_is_kept(client: httpx.Client) -> None:
    response = client.get("/content-length")
    assert response.headers["content-length"] == "10"
    assert response.text == "0123456789"


def test_head_request(srv: Any) -> None:
    raw = _raw_exchange(srv.port, b"HEAD /hello HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    head, body = _head_and_body(raw)
    assert head[0] == "HTTP/1.1 200 OK"
    assert "content-length: 13" in [line.lower() for line in head]
    assert body == b""


def test_keep_alive_serves_many_requests_on_one_connection(client: httpx.Client) -> None:
    for index in range(20):
        assert client.get(f"/generator?n={index % 3}").status_code == 200
        assert client.get("/hello").text == "Hello, world!"


# -- exc_info -----------------------------------------------------------------------------
def test_exc_info_before_headers_replaces_the_response(client: httpx.Client) -> None:
    response = client.get("/exc-info/before")
    assert response.status_code == 500
    assert response.headers["content-type"] == "text/x-error"
    assert response.text == "recovered"


def test_exc_info_after_headers_reraises(client: httpx.Client, srv: Any) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        client.get("/exc-info/after")  # the started response is cut short
    assert _report("re-raised") == "after the headers"
    assert client.get("/hello").status_code == 200


def test_concurrent_streams_end_after_their_chunks(srv: Any) -> None:
    """A thread's outcome may reach the loop ahead of its last chunks (many requests
    in flight): the stream still ends, or fails, after them."""

    def client_run(_: int) -> None:
        with httpx.Client(base_url=srv.url, timeout=WAIT) as http:
            for _ in range(30):
                response = http.get("/generator", params={"n": "3"})
                assert (response.status_code, response.text) == (200, "chunk-0;chunk-1;chunk-2;")
                with pytest.raises(httpx.RemoteProtocolError):
                    http.get("/close/fail")  # cut short after "a", never a 500

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(client_run, range(8)))


# -- close() ------------------------------------------------------------------------------
def test_close_called_on_list_body(client: httpx.Client) -> None:
    assert client.get("/close/list").text == "list body"
    assert _report("closed") == "list"


def test_close_called_on_iterable(client: httpx.Client) -> None:
    assert client.get("/close/iter").text == "abc"
    assert _report("closed") == "iter"


def test_close_called_when_iteration_fails_midway(client: httpx.Client) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        client.get("/close/fail")
    assert _report("closed") == "fail-mid"


def test_close_called_when_iteration_fails_first(client: httpx.Client) -> None:
    response = client.get("/close/fail-first")
    assert response.status_code == 500
    assert _report("closed") == "fail-first"


def test_close_that_raises_after_a_complete_body_keeps_the_response(
    client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    # PEP 3333 asks only that close() is called; a failure there is logged, and the body
    # the client already has stays whole (it was cut before its last chunk).
    with caplog.at_level(logging.ERROR, logger="_granian"):
        response = client.get("/close/raises")
        assert _report("closed") == "close-raises"
    assert (response.status_code, response.text) == (200, "ab")
    assert "close-raises failed in close()" in caplog.text
    assert client.get("/hello").status_code == 200


def test_close_called_when_client_disconnects(srv: Any) -> None:
    with _connect(srv.port) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(b"GET /stream-big HTTP/1.1\r\nHost: h\r\n\r\n")
        assert sock.recv(1024).startswith(b"HTTP/1.1 200 OK")
    assert _report("closed") == "big-stream"


# -- write backpressure -------------------------------------------------------------------
def test_streaming_blocks_the_app_thread_while_the_client_does_not_read(srv: Any) -> None:
    with _connect(srv.port) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.sendall(b"GET /stream-big HTTP/1.1\r\nHost: h\r\n\r\n")
        assert sock.recv(1024).startswith(b"HTTP/1.1 200 OK")
        # Wait until the app stops making progress: the transport is paused and the
        # app's thread is blocked in its next push.
        last = -1
        deadline = time.monotonic() + WAIT
        while stream_progress["sent"] != last:
            assert time.monotonic() < deadline, "the app never stopped producing"
            last = stream_progress["sent"]
            time.sleep(0.3)
        # Socket buffers + the transport's high-water mark + a few chunks in flight.
        assert stream_progress["sent"] < 32 * 1024 * 1024
        # Reading resumes the stream.
        received = 0
        while received < 4 * 1024 * 1024:
            received += len(sock.recv(1024 * 1024))
        deadline = time.monotonic() + WAIT
        while stream_progress["sent"] <= last:
            assert time.monotonic() < deadline, "the app did not resume"
            time.sleep(0.01)
    assert _report("closed") == "big-stream"


# -- files --------------------------------------------------------------------------------
#: Above call.WHOLE_FILE_LIMIT, sent with sendfile by the loop; below, read by the app thread.
@pytest.fixture(params=[300_000, 20_000], ids=["sendfile", "small"])
def data_file(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    path = tmp_path / "data.bin"
    path.write_bytes(os.urandom(request.param))
    return path


def test_file_wrapper_sends_a_real_file(client: httpx.Client, data_file: Path) -> None:
    response = client.get("/file", params={"path": str(data_file)})
    assert response.status_code == 200
    assert response.content == data_file.read_bytes()
    assert response.headers["content-length"] == str(data_file.stat().st_size)
    assert _report("closed") == "file"


def test_file_wrapper_starts_at_the_file_position(client: httpx.Client, data_file: Path) -> None:
    response = client.get("/file", params={"path": str(data_file), "offset": "1000"})
    assert response.content == data_file.read_bytes()[1000:]
    assert _report("closed") == "file"


def test_file_wrapper_honours_the_app_content_length(client: httpx.Client, data_file: Path) -> None:
    response = client.get("/file", params={"path": str(data_file), "offset": "10", "length": "500"})
    assert response.content == data_file.read_bytes()[10:510]
    assert response.headers["content-length"] == "500"
    assert _report("closed") == "file"


def test_file_wrapper_answers_head_with_the_length_only(
    client: httpx.Client, data_file: Path
) -> None:
    response = client.head("/file", params={"path": str(data_file)})
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == str(data_file.stat().st_size)
    assert _report("closed") == "file"


def test_file_wrapper_iterates_a_file_like_object(client: httpx.Client) -> None:
    response = client.get("/filelike")
    assert response.content == b"in-memory file " * 1000


# -- errors -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "route",
    [
        "/error/raise",
        "/error/non-iterable",
        "/error/twice",
        "/error/str-chunk",
        "/error/str-in-list",
        "/error/no-start",
        "/error/bad-status",
        "/error/header-injection",
        "/error/header-injection?stream=1",
        "/error/non-latin1-header",
    ],
)
def test_app_errors_answer_500_and_are_logged(
    client: httpx.Client, route: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("ERROR", logger="_granian"):
        response = client.get(route)
        assert response.status_code == 500
        deadline = time.monotonic() + WAIT
        while not any(
            "Application callable raised an exception" in r.getMessage() for r in caplog.records
        ):
            assert time.monotonic() < deadline, "no error logged"
            time.sleep(0.01)
    record = next(
        r for r in caplog.records if "Application callable raised an exception" in r.message
    )
    assert record.exc_info is not None
    # The worker keeps serving, on the same connection too.
    assert client.get("/hello").text == "Hello, world!"


# -- concurrency --------------------------------------------------------------------------
def test_slow_requests_run_concurrently_on_the_blocking_threads(
    serve: Callable[..., Any],
) -> None:
    wsgi_basic.reset_slow_stats()

    async def fire(url: str) -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=100)
        async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as http:
            return list(await asyncio.gather(*(http.get("/slow") for _ in range(100))))

    with serve(wsgi_basic.app, interface="wsgi", blocking_threads=16) as srv:
        started = time.monotonic()
        responses = asyncio.run(fire(srv.url))
        elapsed = time.monotonic() - started
    assert [r.status_code for r in responses] == [200] * 100
    threads = {r.text for r in responses}
    assert all(name.startswith("granian-blocking-") for name in threads)
    assert len(threads) <= 16
    stats = wsgi_basic.slow_stats()
    assert 1 < stats["max"] <= 16
    # 100 x 0.2 s one at a time would take 20 s: the bound proves concurrency.
    assert elapsed < 10
