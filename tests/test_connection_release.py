"""A closed connection's objects are freed by reference counting, not by the cycle collector.

With the collector off, a real server serves real sockets that close in the usual ways:
the client hangs up after a keep-alive response, ``Connection: close``, a malformed
request, a hang-up while the app is still running. Once the server has seen each close,
none of the connection's objects may still exist. Were they held in a reference cycle,
they would wait for a collection, which for a long-lived connection (promoted to the
oldest generation) is a full one, and every closed connection would feed the
collector's work.
"""

from __future__ import annotations

import asyncio
import gc
import socket
import ssl
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h2.config
import h2.connection
import h2.errors
import h2.events
import pytest
import trustme
from granian_core.http1.connection import H1Connection
from granian_core.http1.exchange import H1Exchange
from granian_core.http1.parse_h11 import H11Parser
from granian_core.http1.parse_httptools import HttptoolsParser
from granian_core.http1.protocol import H1Protocol
from granian_core.http2.alpn import ALPNProtocol
from granian_core.http2.connection import ServerConnection
from granian_core.http2.exchange import H2Exchange
from granian_core.http2.outbound import StreamSender
from granian_core.http2.protocol import H2Protocol
from granian_core.ws.h1 import H1Carrier
from granian_core.ws.session import CoreSession
from granian_rsgi.errors import RSGIProtocolClosed
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect
from wsproto.events import CloseConnection, TextMessage

from tests.conftest import ServerHandle, run_server
from tests.helpers import connect, read_until_eof
from tests.test_websocket_h2 import h2_client

WAIT = 10.0
H1_TYPES = (H1Protocol, H1Connection, H1Exchange, HttptoolsParser, H11Parser)

#: SO_LINGER on, 0 s: closing the socket sends a reset (the client vanishes).
_LINGER_RESET = struct.pack("ii", 1, 0)

#: Set by the app while it waits, so that the client can hang up on a running handler.
_in_app = threading.Event()


async def app(scope: Any, protocol: Any) -> None:
    if scope.path == "/slow":
        _in_app.set()
        await asyncio.sleep(0.3)
    protocol.response_bytes(200, [("content-type", "text/plain")], b"ok")


async def ws_app(scope: Any, protocol: Any) -> None:
    if scope.path == "/reject":
        protocol.close(403)
        return
    transport = await protocol.accept()
    while True:
        try:
            message = await transport.receive()
        except RSGIProtocolClosed:
            # Caught: a logged exception's traceback would keep the session alive in
            # pytest's captured log records, which is no cycle of ours.
            return
        if message.kind == 0:  # the client closed
            return
        await transport.send_str(message.data)


async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "websocket":
        await _asgi_ws(scope, receive, send)
        return
    if scope["path"] == "/slow":
        _in_app.set()
        await asyncio.sleep(0.3)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def _asgi_ws(scope: Any, receive: Any, send: Any) -> None:
    await receive()  # websocket.connect
    if scope["path"] == "/reject":
        await send({"type": "websocket.close", "code": 1000})
        return
    await send({"type": "websocket.accept"})
    while True:
        event = await receive()
        if event["type"] == "websocket.disconnect":
            return
        await send({"type": "websocket.send", "text": event["text"]})


def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    if environ["PATH_INFO"] == "/slow":
        _in_app.set()
        time.sleep(0.3)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


#: Per interface: the HTTP app and the WebSocket app.
APPS: dict[str, tuple[Any, Any]] = {
    "rsgi": (app, ws_app),
    "asginl": (asgi_app, asgi_app),
    "wsgi": (wsgi_app, None),
}


@pytest.fixture(params=["rsgi", "asginl", "wsgi"])
def interface(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["rsgi", "asginl"])
def ws_interface(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def collector_off() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _instances(srv: ServerHandle, types: tuple[type, ...]) -> list[str]:
    """Names of the live objects of ``types``, counted on the server's own thread.

    gc.get_objects() also returns objects other threads are still building (a tuple
    that tuple(iterable) is filling); it must not run beside the server's thread:
    CPython 3.12 and 3.13 failed the server's start-up with a SystemError that way.
    """

    def census() -> list[str]:
        # type(), not isinstance(): that would ask lazy objects (Django's settings, weak
        # proxies) for their __class__, which may raise.
        return [cls.__name__ for cls in map(type, gc.get_objects()) if issubclass(cls, types)]

    return srv.call_in_loop(census)


def _alive(srv: ServerHandle, types: tuple[type, ...]) -> int:
    return len(_instances(srv, types))


def _wait_until_freed(srv: ServerHandle, types: tuple[type, ...], before: int) -> int:
    deadline = time.monotonic() + WAIT
    alive = _alive(srv, types)
    while alive > before and time.monotonic() < deadline:
        time.sleep(0.02)
        alive = _alive(srv, types)
    return alive


def _keep_alive_then_hang_up(port: int) -> None:
    with connect(port) as sock:
        for _ in range(3):
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")


def _connection_close(port: int) -> None:
    with connect(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert read_until_eof(sock).startswith(b"HTTP/1.1 200 ")


def _malformed(port: int) -> None:
    with connect(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
        assert read_until_eof(sock).startswith(b"HTTP/1.1 400 ")


def _hang_up_in_app(port: int) -> None:
    _in_app.clear()
    with connect(port) as sock:
        sock.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _in_app.wait(WAIT)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)


@pytest.mark.parametrize(
    "close", [_keep_alive_then_hang_up, _connection_close, _malformed, _hang_up_in_app]
)
def test_http1_connection_objects_are_freed_without_the_collector(
    interface: str, parser: str, close: Any, collector_off: None
) -> None:
    with run_server(APPS[interface][0], interface=interface, http1_parser=parser) as srv:
        before = _alive(srv, H1_TYPES)
        for _ in range(5):
            close(srv.port)
        left = _wait_until_freed(srv, H1_TYPES, before)
        assert left == before, _instances(srv, H1_TYPES)


# -- HTTP/2 ------------------------------------------------------------------------------
def _h2_client() -> h2.connection.H2Connection:
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    client.initiate_connection()
    return client


def _h2_request(client: h2.connection.H2Connection, path: str) -> int:
    stream_id = client.get_next_available_stream_id()
    headers = [(":method", "GET"), (":path", path), (":scheme", "http"), (":authority", "x")]
    client.send_headers(stream_id, headers, end_stream=True)
    return stream_id


def _h2_until_ended(sock: socket.socket, client: h2.connection.H2Connection, count: int) -> None:
    ended = 0
    while ended < count:
        data = sock.recv(65536)
        assert data, "the server closed the connection"
        for event in client.receive_data(data):
            if isinstance(event, h2.events.StreamEnded):
                ended += 1
        sock.sendall(client.data_to_send())


def _h2_streams_then_hang_up(port: int) -> None:
    with connect(port) as sock:
        client = _h2_client()
        for _ in range(3):
            _h2_request(client, "/")
        sock.sendall(client.data_to_send())
        _h2_until_ended(sock, client, 3)


def _h2_slow_request(sock: socket.socket) -> tuple[h2.connection.H2Connection, int]:
    """A request to /slow, once the app is running it."""
    _in_app.clear()
    client = _h2_client()
    stream_id = _h2_request(client, "/slow")
    sock.sendall(client.data_to_send())
    assert _in_app.wait(WAIT)
    return client, stream_id


def _h2_reset_in_app(port: int) -> None:
    with connect(port) as sock:
        client, stream_id = _h2_slow_request(sock)
        client.reset_stream(stream_id)
        _h2_request(client, "/")
        sock.sendall(client.data_to_send())
        _h2_until_ended(sock, client, 1)


def _h2_hang_up_in_app(port: int) -> None:
    with connect(port) as sock:
        _h2_slow_request(sock)


H2_TYPES = (H2Protocol, ServerConnection, H2Exchange, StreamSender)


@pytest.mark.parametrize("close", [_h2_streams_then_hang_up, _h2_reset_in_app, _h2_hang_up_in_app])
def test_h2_connection_objects_are_freed_without_the_collector(
    interface: str, close: Any, collector_off: None
) -> None:
    with run_server(APPS[interface][0], interface=interface, http="2") as srv:
        before = _alive(srv, H2_TYPES)
        for _ in range(5):
            close(srv.port)
        left = _wait_until_freed(srv, H2_TYPES, before)
        assert left == before, _instances(srv, H2_TYPES)


def test_h2_finished_streams_are_freed_while_their_connection_stays_open(
    interface: str, collector_off: None
) -> None:
    http2 = run_server(APPS[interface][0], interface=interface, http="2")
    with http2 as srv, connect(srv.port) as sock:
        client = _h2_client()
        _h2_request(client, "/")
        sock.sendall(client.data_to_send())
        _h2_until_ended(sock, client, 1)
        before = _alive(srv, (H2Exchange, StreamSender))
        for _ in range(10):
            _h2_request(client, "/")
        sock.sendall(client.data_to_send())
        _h2_until_ended(sock, client, 10)
        assert _wait_until_freed(srv, (H2Exchange, StreamSender), before) == before


# -- WebSocket over HTTP/1.1 -------------------------------------------------------------
def _ws_echo_then_close(port: int) -> None:
    with ws_connect(f"ws://127.0.0.1:{port}/echo", open_timeout=WAIT) as ws:
        ws.send("hi")
        assert ws.recv(timeout=WAIT) == "hi"


def _ws_client_vanishes(port: int) -> None:
    with ws_connect(f"ws://127.0.0.1:{port}/echo", open_timeout=WAIT) as ws:
        ws.send("hi")
        assert ws.recv(timeout=WAIT) == "hi"
        # A reset instead of a close frame: the session ends without a closing handshake.
        ws.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
        # SHUT_RD sends nothing but wakes the client's reader thread: websockets 16 (the
        # last for Python 3.10) would otherwise wait out its 20 s ping timeout on leaving.
        ws.socket.shutdown(socket.SHUT_RD)
        ws.socket.close()


def _ws_rejected(port: int) -> None:
    with pytest.raises(InvalidStatus):
        ws_connect(f"ws://127.0.0.1:{port}/reject", open_timeout=WAIT)


WS_TYPES = (*H1_TYPES, H1Carrier, CoreSession)


@pytest.mark.parametrize("close", [_ws_echo_then_close, _ws_client_vanishes, _ws_rejected])
def test_websocket_objects_are_freed_without_the_collector(
    ws_interface: str, parser: str, close: Any, collector_off: None
) -> None:
    ws = APPS[ws_interface][1]
    with run_server(ws, interface=ws_interface, http1_parser=parser) as srv:
        before = _alive(srv, WS_TYPES)
        for _ in range(5):
            close(srv.port)
        left = _wait_until_freed(srv, WS_TYPES, before)
        assert left == before, _instances(srv, WS_TYPES)


# -- WebSocket over HTTP/2 (extended CONNECT) ------------------------------------------------
def _h2_ws_sessions(port: int) -> None:
    with h2_client(port) as client:
        closed = client.open("/echo")
        client.send(closed, TextMessage("hi"))
        assert client.next_message(closed) == "hi"
        client.send(closed, CloseConnection(code=1000))
        client.pump_until(lambda: closed in client.ended)
        reset = client.open("/echo")
        client.send(reset, TextMessage("hi"))
        assert client.next_message(reset) == "hi"
        client.h2.reset_stream(reset, h2.errors.ErrorCodes.CANCEL)
        client.flush()
        # Left open: the connection's loss ends it.
        left = client.open("/echo")
        client.send(left, TextMessage("hi"))
        assert client.next_message(left) == "hi"


H2_WS_TYPES = (*H2_TYPES, CoreSession)


def test_h2_websocket_objects_are_freed_without_the_collector(
    ws_interface: str, collector_off: None
) -> None:
    ws = APPS[ws_interface][1]
    with run_server(ws, interface=ws_interface, http="2") as srv:
        before = _alive(srv, H2_WS_TYPES)
        for _ in range(3):
            _h2_ws_sessions(srv.port)
        left = _wait_until_freed(srv, H2_WS_TYPES, before)
        assert left == before, _instances(srv, H2_WS_TYPES)


# -- TLS: the protocol is chosen by ALPN ---------------------------------------------------
@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[trustme.CA, Path, Path]:
    tmp = tmp_path_factory.mktemp("release-pki")
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1")
    server.cert_chain_pems[0].write_to_path(str(tmp / "cert.pem"))
    server.private_key_pem.write_to_path(str(tmp / "key.pem"))
    return ca, tmp / "cert.pem", tmp / "key.pem"


@pytest.mark.parametrize("alpn", ["http/1.1", "h2"])
def test_tls_connection_objects_are_freed_without_the_collector(
    certificate: tuple[trustme.CA, Path, Path], alpn: str, collector_off: None
) -> None:
    ca, cert, key = certificate
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    client_context.set_alpn_protocols([alpn])
    types = (ALPNProtocol, *H1_TYPES, *H2_TYPES)
    with run_server(app, interface="rsgi", ssl_cert=cert, ssl_key=key) as srv:
        before = _alive(srv, types)
        for _ in range(5):
            with client_context.wrap_socket(connect(srv.port), server_hostname="127.0.0.1") as sock:
                assert sock.selected_alpn_protocol() == alpn
                if alpn == "h2":
                    client = _h2_client()
                    _h2_request(client, "/")
                    sock.sendall(client.data_to_send())
                    _h2_until_ended(sock, client, 1)
                else:
                    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                    assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
        left = _wait_until_freed(srv, types, before)
        assert left == before, _instances(srv, types)
