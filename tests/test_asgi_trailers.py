"""ASGI ``http.response.trailers``: a trailing HEADERS frame on HTTP/2, dropped elsewhere.

A real server in a thread; a raw h2 client (to see the trailing HEADERS frame)
and httpx for HTTP/1.1.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Callable
from typing import Any

import h2.config
import h2.connection
import h2.events
import httpx
import pytest

Serve = Callable[..., contextlib.AbstractContextManager[Any]]
WAIT = 10.0
#: Errors ``send`` raised in the app (read after the response arrived).
APP_ERRORS: list[str] = []


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/unannounced":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"body"})
        try:
            await send({"type": "http.response.trailers", "headers": [(b"x-checksum", b"1")]})
        except RuntimeError as exc:
            APP_ERRORS.append(str(exc))
        return
    headers = [(b"content-type", b"text/plain"), (b"trailer", b"x-checksum, x-status")]
    await send({"type": "http.response.start", "status": 200, "headers": headers, "trailers": True})
    if path == "/trailers":
        await send({"type": "http.response.body", "body": b"hello ", "more_body": True})
        await send({"type": "http.response.body", "body": b"world"})
    elif path == "/invalid":
        await send({"type": "http.response.body", "body": b"x"})
        await send({"type": "http.response.trailers", "headers": [(b":status", b"500")]})
        return
    # "/trailers-only" sends no body message at all.
    await send(
        {
            "type": "http.response.trailers",
            "headers": [(b"x-checksum", b"abc123")],
            "more_trailers": True,
        }
    )
    await send({"type": "http.response.trailers", "headers": [(b"x-status", b"0")]})


class Result:
    def __init__(self) -> None:
        self.status = 0
        self.headers: dict[bytes, bytes] = {}
        self.body = b""
        self.trailers: list[tuple[bytes, bytes]] | None = None
        self.ended = False
        self.reset: int | None = None


def h2_get(port: int, path: str, te_trailers: bool = True) -> Result:
    """One GET over a fresh cleartext HTTP/2 connection (prior knowledge)."""
    config = h2.config.H2Configuration(client_side=True, header_encoding=None)
    conn = h2.connection.H2Connection(config=config)
    conn.initiate_connection()
    block = [
        (b":method", b"GET"),
        (b":scheme", b"http"),
        (b":path", path.encode()),
        (b":authority", f"127.0.0.1:{port}".encode()),
    ]
    if te_trailers:
        block.append((b"te", b"trailers"))
    conn.send_headers(1, block, end_stream=True)
    result = Result()
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as sock:
        sock.sendall(conn.data_to_send())
        deadline = time.monotonic() + WAIT
        while not result.ended and result.reset is None:
            assert time.monotonic() < deadline
            data = sock.recv(65536)
            assert data, "the server closed the connection"
            for event in conn.receive_data(data):
                _record(conn, event, result)
            sock.sendall(conn.data_to_send())
    return result


def _record(conn: h2.connection.H2Connection, event: Any, result: Result) -> None:
    if isinstance(event, h2.events.ResponseReceived):
        result.headers = dict(event.headers)
        result.status = int(result.headers[b":status"])
    elif isinstance(event, h2.events.DataReceived):
        result.body += event.data
        conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
    elif isinstance(event, h2.events.TrailersReceived):
        result.trailers = list(event.headers)
    elif isinstance(event, h2.events.StreamEnded):
        result.ended = True
    elif isinstance(event, h2.events.StreamReset):
        result.reset = int(event.error_code)


@pytest.fixture
def h2_srv(serve: Serve) -> Any:
    with serve(app, interface="asginl", http="2") as server:
        yield server


def test_trailers_are_a_trailing_headers_frame(h2_srv: Any) -> None:
    result = h2_get(h2_srv.port, "/trailers")
    assert result.status == 200
    assert result.headers[b"trailer"] == b"x-checksum, x-status"
    assert b"content-length" not in result.headers
    assert result.body == b"hello world"
    assert result.trailers == [(b"x-checksum", b"abc123"), (b"x-status", b"0")]
    assert result.ended


def test_trailers_without_a_body(h2_srv: Any) -> None:
    result = h2_get(h2_srv.port, "/trailers-only")
    assert result.status == 200
    assert result.body == b""
    assert result.trailers == [(b"x-checksum", b"abc123"), (b"x-status", b"0")]


def test_trailers_are_dropped_without_te_trailers(h2_srv: Any) -> None:
    # ASGI: the server sends trailers only when the client sent ``TE: trailers``.
    result = h2_get(h2_srv.port, "/trailers", te_trailers=False)
    assert result.status == 200
    assert result.body == b"hello world"
    assert result.trailers is None
    assert result.ended


def test_invalid_trailer_resets_the_stream(h2_srv: Any) -> None:
    # A pseudo-header in trailers is refused; the body had started: the stream is reset.
    result = h2_get(h2_srv.port, "/invalid")
    assert result.status == 200
    assert result.trailers is None
    assert result.reset is not None


def test_unannounced_trailers_are_an_app_error(h2_srv: Any) -> None:
    # Trailers not announced in http.response.start: send() raises a clear RuntimeError.
    APP_ERRORS.clear()
    result = h2_get(h2_srv.port, "/unannounced")
    assert result.status == 200
    assert result.body == b"body"
    assert result.trailers is None
    assert len(APP_ERRORS) == 1
    assert "without 'trailers': True" in APP_ERRORS[0]


@pytest.mark.parametrize("te", [True, False])
def test_http1_drops_trailers_and_completes_the_body(serve: Serve, te: bool) -> None:
    headers = {"te": "trailers"} if te else {}
    with serve(app, interface="asginl") as srv, httpx.Client(timeout=WAIT) as client:
        response = client.get(f"{srv.url}/trailers", headers=headers)
        only = client.get(f"{srv.url}/trailers-only", headers=headers)
    assert response.http_version == "HTTP/1.1"
    assert response.status_code == 200
    assert response.content == b"hello world"
    assert only.status_code == 200
    assert only.content == b""


async def _extensions_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = json.dumps(sorted(scope["extensions"])).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


@pytest.mark.parametrize(("http2", "announced"), [(True, True), (False, False)])
def test_trailers_extension_is_announced_on_http2_only(
    serve: Callable[..., Any], http2: bool, announced: bool
) -> None:
    with (
        serve(_extensions_app, interface="asgi") as srv,
        httpx.Client(http1=not http2, http2=http2, timeout=10) as client,
    ):
        extensions = client.get(srv.url).json()
    assert ("http.response.trailers" in extensions) is announced
    assert "http.response.pathsend" in extensions
