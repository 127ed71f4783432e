"""ASGI, RSGI and WSGI applications served over HTTP/2 through their real adapters."""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
from granian_core.interface import load_interface

from .helpers import complete_lifespan
from .test_http2_server import serve_h2

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
    facts = f"{scope['http_version']} {scope['scheme']} {scope['path']}".encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x-facts", facts)]})
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
    facts = f"{scope.http_version} {scope.scheme} {scope.path}"
    if scope.path == "/stream":
        transport = protocol.response_stream(200, [("x-facts", facts)])
        for start in range(0, len(PAYLOAD), CHUNK):
            await transport.send_bytes(PAYLOAD[start : start + CHUNK])
        return
    protocol.response_bytes(200, [("x-facts", facts)], body)


def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    body = environ["wsgi.input"].read()
    facts = f"{environ['SERVER_PROTOCOL']} {environ['wsgi.url_scheme']} {environ['PATH_INFO']}"
    start_response("200 OK", [("x-facts", facts)])
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
