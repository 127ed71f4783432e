"""ASGI, RSGI and WSGI applications served over HTTP/2 through their real adapters."""

from __future__ import annotations

import asyncio
import hashlib
import ssl
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import h2.events
import httpx
import pytest
import trustme
from granian_core.interface import load_interface

from .conftest import run_server
from .helpers import complete_lifespan
from .test_http2_server import RawH2, request_headers, serve_h2

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB: more than one stream window of frames
CHUNK = 64 * 1024


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await complete_lifespan(receive, send)
        return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    if scope["path"] == "/host":  # the header list as the app sees it
        listed = b"|".join(name + b"=" + value for name, value in scope["headers"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": listed})
        return
    facts = f"{scope['http_version']} {scope['scheme']} {scope['path']}".encode()
    status = 103 if scope["path"] == "/interim" else 200
    await send({"type": "http.response.start", "status": status, "headers": [(b"x-facts", facts)]})
    if scope["path"] == "/stream":
        for start in range(0, len(PAYLOAD), CHUNK):
            await send(
                {
                    "type": "http.response.body",
                    "body": PAYLOAD[start : start + CHUNK],
                    "more_body": True,
                }
            )
        await send({"type": "http.response.body", "body": b""})
        return
    await send({"type": "http.response.body", "body": body})


async def rsgi_app(scope: Any, protocol: Any) -> None:
    body = await protocol()
    if scope.path == "/host":
        listed = "|".join(f"{name}={value}" for name, value in scope.headers.items())
        protocol.response_str(200, [], f"{listed}|authority={scope.authority}")
        return
    facts = f"{scope.http_version} {scope.scheme} {scope.path}"
    if scope.path == "/stream":
        transport = protocol.response_stream(200, [("x-facts", facts)])
        for start in range(0, len(PAYLOAD), CHUNK):
            await transport.send_bytes(PAYLOAD[start : start + CHUNK])
        return
    status = 103 if scope.path == "/interim" else 200
    protocol.response_bytes(status, [("x-facts", facts)], body)


def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    body = environ["wsgi.input"].read()
    if environ["PATH_INFO"] == "/host":
        start_response("200 OK", [])
        return [environ["HTTP_HOST"].encode()]
    facts = f"{environ['SERVER_PROTOCOL']} {environ['wsgi.url_scheme']} {environ['PATH_INFO']}"
    interim = environ["PATH_INFO"] == "/interim"
    start_response("103 Early Hints" if interim else "200 OK", [("x-facts", facts)])
    if environ["PATH_INFO"] == "/stream":
        return (PAYLOAD[start : start + CHUNK] for start in range(0, len(PAYLOAD), CHUNK))
    return [body]


APPS = {"asgi": asgi_app, "rsgi": rsgi_app, "wsgi": wsgi_app}
EXPECTED_VERSION = {"asgi": "2", "rsgi": "2", "wsgi": "HTTP/2"}


@pytest.mark.parametrize("name", ["asgi", "rsgi", "wsgi"])
def test_interface_over_h2c(name: str) -> None:
    with (
        serve_h2(APPS[name], interface_cls=load_interface(name), interface=name) as srv,
        httpx.Client(http1=False, http2=True, timeout=30) as client,
    ):
        echo = client.post(f"{srv.url}/echo", content=PAYLOAD)
        stream = client.get(f"{srv.url}/stream")
    assert echo.http_version == "HTTP/2"
    assert echo.headers["x-facts"] == f"{EXPECTED_VERSION[name]} http /echo"
    assert hashlib.sha256(echo.content).digest() == hashlib.sha256(PAYLOAD).digest()
    assert echo.headers["server"] == "granian"
    assert stream.status_code == 200
    assert stream.content == PAYLOAD


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # ASGI: the authority as the first header, host.
        ("asgi", "host={authority}|x-a=1"),
        # RSGI: "The Host header is not synthesised into RSGI headers" (RSGI 1.6, 3).
        ("rsgi", "x-a=1|authority={authority}"),
        ("wsgi", "{authority}"),
    ],
)
def test_each_interface_presents_the_authority_its_own_way(name: str, expected: str) -> None:
    with (
        serve_h2(APPS[name], interface_cls=load_interface(name), interface=name) as srv,
        httpx.Client(http1=False, http2=True, timeout=30) as client,
    ):
        response = client.get(f"{srv.url}/host", headers={"x-a": "1"})
        authority = f"127.0.0.1:{srv.port}"
    listed = "|".join(
        part for part in response.text.split("|") if part.split("=")[0] not in _CLIENT_HEADERS
    )
    assert listed == expected.format(authority=authority)


#: What httpx sends on its own, left out of the comparison above.
_CLIENT_HEADERS = {"accept", "accept-encoding", "user-agent"}


@pytest.mark.parametrize("name", ["asgi", "rsgi", "wsgi"])
def test_an_interim_status_as_the_response_is_a_500_on_that_stream_only(name: str) -> None:
    # HTTP/2 forbids ending a stream on a 1xx HEADERS frame: sent, it would be a protocol
    # error that takes the whole connection, and the other streams on it, down.
    with (
        serve_h2(APPS[name], interface_cls=load_interface(name), interface=name) as srv,
        httpx.Client(http1=False, http2=True, timeout=30) as client,
    ):
        failed = client.get(f"{srv.url}/interim")
        after = client.post(f"{srv.url}/echo", content=b"same connection")
    assert failed.status_code == 500
    assert after.status_code == 200
    assert after.content == b"same connection"


@pytest.mark.parametrize("name", ["asgi", "rsgi", "wsgi"])
def test_expect_100_continue_is_answered_when_the_app_reads(name: str) -> None:
    # The client holds its body back until the 100 (RFC 9110 10.1.1); without one, curl
    # waits a second and other clients may wait for good.
    with serve_h2(APPS[name], interface_cls=load_interface(name), interface=name) as srv:
        client = RawH2(srv.port)
        head = request_headers("POST", "/echo", expect="100-continue", content_length="4")
        stream_id = client.request(head, end=False)
        interim = client.wait_for(
            lambda e: isinstance(e, h2.events.InformationalResponseReceived), timeout=5
        )
        client.conn.send_data(stream_id, b"held", end_stream=True)
        client.flush()
        headers, body = client.response(stream_id)
        client.close()
    assert dict(interim.headers)[b":status"] == b"100"
    assert headers[b":status"] == b"200"
    assert body == b"held"


@pytest.mark.parametrize("name", ["asgi", "rsgi", "wsgi"])
def test_interface_over_tls_h2(name: str, tmp_path: Path) -> None:
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    verify = ssl.create_default_context()
    ca.configure_trust(verify)
    with (
        serve_h2(
            APPS[name],
            interface_cls=load_interface(name),
            interface=name,
            http="auto",
            ssl_cert=cert,
            ssl_key=key,
        ) as srv,
        httpx.Client(http2=True, verify=verify) as client,
    ):
        response = client.post(f"{srv.url}/echo", content=b"over tls")
    assert response.http_version == "HTTP/2"
    assert response.headers["x-facts"] == f"{EXPECTED_VERSION[name]} https /echo"
    assert response.content == b"over tls"


# -- a body read after the response: over on either protocol, never a cut body passed off whole
LATE_READS: list[object] = []


async def asgi_late_reader(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await complete_lifespan(receive, send)
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})
    await asyncio.sleep(0.05)  # the response end has reached the connection
    LATE_READS.append(await asyncio.wait_for(receive(), 5))


async def rsgi_late_reader(scope: Any, protocol: Any) -> None:
    protocol.response_bytes(200, [], b"ok")
    await asyncio.sleep(0.05)
    try:
        LATE_READS.append(await asyncio.wait_for(protocol(), 5))
    except Exception as exc:
        LATE_READS.append(type(exc).__name__)


@pytest.mark.parametrize("http", ["1", "2"])
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("asgi", {"type": "http.disconnect"}),  # ASGI: receive after the response is sent
        ("rsgi", "RSGIProtocolClosed"),
    ],
)
def test_a_body_read_after_the_response_reports_it_gone(
    name: str, expected: object, http: str
) -> None:
    LATE_READS.clear()
    app = asgi_late_reader if name == "asgi" else rsgi_late_reader
    with (
        run_server(app, name, http=http) as srv,
        httpx.Client(http1=http == "1", http2=http == "2", timeout=10) as client,
    ):
        response = client.post(f"http://127.0.0.1:{srv.port}/", content=b"x" * 1000)
        deadline = time.monotonic() + 5
        while not LATE_READS and time.monotonic() < deadline:
            time.sleep(0.01)
    assert response.text == "ok"
    assert list(LATE_READS) == [expected]
