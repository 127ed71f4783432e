"""HTTP/2 over real sockets: httpx, curl, h2load and a raw h2 client against H2Protocol.

``serve_h2`` runs the worker's serving pieces (WorkerState + Acceptor + the
HTTP/2 protocol) in a thread. It is a stopgap until the worker picks H2Protocol
itself (see the report to the lead): it then becomes ``run_server(...,
http="2")`` with no other change to the tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.settings
import httpx
import pytest
from granian_core.config import ServerConfig
from granian_core.exchange import ClientDisconnected, HTTPExchange
from granian_core.http2 import H2Exchange
from granian_core.interface import Interface
from granian_core.server.sockets import bind_tcp
from granian_core.server.state import WorkerState
from granian_core.server.worker import WorkerServer
from granian_core.tls import TLS_HANDSHAKE_TIMEOUT, build_ssl_context
from hyperframe.frame import (
    DataFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    RstStreamFrame,
)

Handler = Callable[[HTTPExchange], Awaitable[None]]


# -- the application: routes that use the exchange directly ---------------------------------
class Routes:
    """Per-test routes plus what handlers observed (read by the test thread)."""

    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.seen: list[HTTPExchange] = []
        self.notes: dict[str, Any] = {}
        self.active = 0
        self.max_active = 0

    def route(self, path: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.routes[path] = handler
            return handler

        return register

    async def handle(self, exchange: HTTPExchange) -> None:
        self.seen.append(exchange)
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            handler = self.routes.get(exchange.path, _default)
            await handler(exchange)
        finally:
            self.active -= 1


async def _default(exchange: HTTPExchange) -> None:
    body = bytearray()
    while not exchange.body_complete:
        body += await exchange.receive()
    exchange.send_response(200, [(b"content-type", b"application/octet-stream")], bytes(body))


class ExchangeInterface(Interface):
    """Hands every exchange to ``Routes.handle``."""

    def handle_http(self, exchange: HTTPExchange) -> Awaitable[None]:
        routes: Routes = self.app
        return routes.handle(exchange)


# -- the server ---------------------------------------------------------------------------------
@dataclass
class H2Server:
    config: ServerConfig
    app: Any
    ssl_context: ssl.SSLContext | None = None
    handshake_timeout: float = TLS_HANDSHAKE_TIMEOUT
    interface_cls: type[Interface] = ExchangeInterface
    port: int = 0
    loop: asyncio.AbstractEventLoop | None = None
    _state: WorkerState | None = None
    errors: list[BaseException] = field(default_factory=list)
    _stop: asyncio.Event | None = None
    _thread: threading.Thread | None = None
    _ready: threading.Event = field(default_factory=threading.Event)
    _stopping: bool = False

    @property
    def state(self) -> WorkerState:
        assert self._state is not None, "not started"
        return self._state

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="h2-server", daemon=True)
        self._thread.start()
        assert self._ready.wait(10), "server did not start"
        if self.errors:
            raise self.errors[0]

    def _run(self) -> None:
        loop = self.loop = asyncio.new_event_loop()
        interface = self.interface_cls(self.app, _context(self.config, loop))
        try:
            interface.setup(loop)
            loop.run_until_complete(self._serve(interface))
        except BaseException as exc:
            self.errors.append(exc)
        finally:
            self._ready.set()
            interface.teardown(loop)
            loop.close()

    async def _serve(self, interface: Interface) -> None:
        """The real worker (``WorkerServer``) on one socket, with its state exposed."""
        await interface.startup()
        sock = bind_tcp("127.0.0.1", 0, 128)
        self.port = sock.getsockname()[1]
        worker = WorkerServer(
            self.config, interface, [sock], self.ssl_context, self.handshake_timeout
        )
        self._stop = asyncio.Event()
        serving = asyncio.ensure_future(worker.serve(self._stop))
        await asyncio.sleep(0)  # serve() has built the worker state
        self._state = worker.state
        self._ready.set()
        try:
            await serving
        finally:
            await interface.shutdown()

    def begin_shutdown(self) -> None:
        assert self.loop is not None
        assert self._stop is not None
        if self._stopping:
            return
        self._stopping = True
        self.loop.call_soon_threadsafe(self._stop.set)

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the server loop and return its result."""
        assert self.loop is not None

        async def run() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    def stop(self) -> None:
        if self._thread is None:
            return
        self.begin_shutdown()
        self._thread.join(10)
        if self._thread.is_alive():  # a handler never returned (a failed test): end it
            assert self.loop is not None
            self.loop.call_soon_threadsafe(self.state.cancel_handlers)
            self._thread.join(5)
            raise AssertionError("server did not stop: handlers were still running")


def _context(config: ServerConfig, loop: asyncio.AbstractEventLoop) -> Any:
    from granian_core.interface import WorkerContext

    return WorkerContext(config=config, loop=loop)


@contextlib.contextmanager
def serve_h2(
    app: Any = None,
    *,
    interface_cls: type[Interface] = ExchangeInterface,
    handshake_timeout: float = TLS_HANDSHAKE_TIMEOUT,
    **options: Any,
) -> Iterator[H2Server]:
    """Serve ``app`` (default: a ``Routes``) over HTTP/2; TLS with ``ssl_cert``/``ssl_key``."""
    options.setdefault("http", "2")
    options.setdefault("interface", "rsgi")
    config = ServerConfig(port=0, **options)
    server = H2Server(
        config,
        Routes() if app is None else app,
        build_ssl_context(config),
        handshake_timeout,
        interface_cls,
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()
    if server.errors:
        raise server.errors[0]


# -- a raw HTTP/2 client over a socket ---------------------------------------------------------
GET = [(b":method", b"GET"), (b":path", b"/"), (b":scheme", b"http"), (b":authority", b"t")]


def request_headers(
    method: str = "GET", path: str = "/", **extra: str
) -> list[tuple[bytes, bytes]]:
    head = [
        (b":method", method.encode()),
        (b":path", path.encode()),
        (b":scheme", b"http"),
        (b":authority", b"test"),
    ]
    return head + [(k.replace("_", "-").encode(), v.encode()) for k, v in extra.items()]


class RawH2:
    """An h2 client on a blocking socket: send frames, collect events."""

    def __init__(self, port: int, **settings: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding=None)
        )
        self.conn.initiate_connection()
        if settings:
            codes = h2.settings.SettingCodes
            self.conn.update_settings({getattr(codes, k.upper()): v for k, v in settings.items()})
        self.events: list[h2.events.Event] = []
        self.closed = False
        self.flush()

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def read(self, timeout: float = 5.0) -> list[h2.events.Event]:
        """Read once (waiting at most ``timeout``); ACKs etc. are sent back."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(1 << 20)
        except TimeoutError:
            return []
        except ConnectionResetError:
            data = b""
        if not data:
            self.closed = True
            return []
        events = self.conn.receive_data(data)
        self.events += events
        self.flush()
        return events

    def wait_for(
        self, predicate: Callable[[h2.events.Event], bool], timeout: float = 10.0
    ) -> h2.events.Event:
        deadline = time.monotonic() + timeout
        for event in self.events:
            if predicate(event):
                return event
        while time.monotonic() < deadline and not self.closed:
            for event in self.read(min(1.0, max(0.01, deadline - time.monotonic()))):
                if predicate(event):
                    return event
        raise AssertionError(f"event not seen; got {self.events[-10:]!r} closed={self.closed}")

    def wait_closed(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.closed and time.monotonic() < deadline:
            try:
                self.read(0.5)
            except h2.exceptions.ProtocolError:
                self.closed = True
        assert self.closed, "the server did not close the connection"

    def request(
        self, headers: list[tuple[bytes, bytes]], body: bytes = b"", end: bool = True
    ) -> int:
        stream_id = self.conn.get_next_available_stream_id()
        self.conn.send_headers(stream_id, headers, end_stream=end and not body)
        if body:
            self.conn.send_data(stream_id, body, end_stream=end)
        self.flush()
        return stream_id

    def response(self, stream_id: int, timeout: float = 10.0) -> tuple[dict[bytes, bytes], bytes]:
        """Wait for the whole response of ``stream_id``; acknowledges its data."""

        def ended(event: h2.events.Event) -> bool:
            return (
                isinstance(event, (h2.events.StreamEnded, h2.events.StreamReset))
                and event.stream_id == stream_id
            )

        deadline = time.monotonic() + timeout
        while not any(ended(e) for e in self.events):
            assert time.monotonic() < deadline, "no response in time"
            assert not self.closed, "connection closed before the response"
            for event in self.read(0.5):
                if isinstance(event, h2.events.DataReceived) and event.stream_id == stream_id:
                    self.conn.acknowledge_received_data(event.flow_controlled_length, stream_id)
            self.flush()
        headers: dict[bytes, bytes] = {}
        body = b""
        for event in self.events:
            if getattr(event, "stream_id", None) != stream_id:
                continue
            if isinstance(event, h2.events.ResponseReceived):
                headers = dict(event.headers)
            elif isinstance(event, h2.events.DataReceived):
                body += event.data
        return headers, body

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


def goaway(client: RawH2) -> h2.events.ConnectionTerminated:
    event = client.wait_for(lambda e: isinstance(e, h2.events.ConnectionTerminated))
    assert isinstance(event, h2.events.ConnectionTerminated)
    return event


# -- basic request/response ------------------------------------------------------------------
def test_get_with_prior_knowledge_fills_the_exchange() -> None:
    routes = Routes()
    with serve_h2(routes) as srv, httpx.Client(http1=False, http2=True) as client:
        response = client.get(f"{srv.url}/a%20b?x=1&y=%20", headers={"X-Custom": "v"})
    assert response.http_version == "HTTP/2"
    assert response.status_code == 200
    assert response.headers["server"] == "granian"
    assert response.headers["date"].endswith(" GMT")
    assert response.headers["content-length"] == "0"
    (exchange,) = routes.seen
    assert isinstance(exchange, H2Exchange)
    assert exchange.http_version == "2"
    assert exchange.method == "GET"
    assert exchange.raw_path == b"/a%20b"
    assert exchange.path == "/a b"
    assert exchange.query_string == b"x=1&y=%20"
    assert exchange.authority == f"127.0.0.1:{srv.port}"
    names = [name for name, _ in exchange.headers]
    assert not any(name.startswith(b":") for name in names)
    assert all(name == name.lower() for name in names)
    assert (b"x-custom", b"v") in exchange.headers
    assert b"host" not in names  # the authority is not copied into a made-up host field
    assert exchange.conn.scheme == "http"
    assert exchange.conn.client is not None
    assert exchange.conn.client[0] == "127.0.0.1"
    assert exchange.conn.server == ("127.0.0.1", srv.port)
    assert exchange.response_complete
    assert exchange.body_complete


def test_upload_and_echo_of_a_large_body() -> None:
    payload = bytes(range(256)) * 20_000  # 5 MB: several connection windows
    with serve_h2() as srv, httpx.Client(http1=False, http2=True) as client:
        response = client.post(f"{srv.url}/echo", content=payload)
    assert response.status_code == 200
    assert response.headers["content-length"] == str(len(payload))
    assert hashlib.sha256(response.content).digest() == hashlib.sha256(payload).digest()


def test_streamed_response_with_drain_arrives_whole() -> None:
    routes = Routes()
    chunk = bytes(range(256)) * 256  # 64 KiB
    count = 300  # ~19 MiB, far beyond any window or send buffer

    @routes.route("/stream")
    async def stream(exchange: HTTPExchange) -> None:
        exchange.start_response(200, [(b"content-type", b"application/octet-stream")])
        for _ in range(count):
            exchange.write(chunk)
            if exchange.write_paused:
                routes.notes["paused"] = True
                await exchange.drain()
        exchange.end_response()

    with serve_h2(routes) as srv, httpx.Client(http1=False, http2=True, timeout=30) as client:
        response = client.get(f"{srv.url}/stream")
    assert response.status_code == 200
    assert "content-length" not in response.headers
    assert len(response.content) == len(chunk) * count
    assert hashlib.sha256(response.content).digest() == hashlib.sha256(chunk * count).digest()
    assert routes.notes.get("paused") is True  # the send buffer bound was reached


def test_short_streamed_response_gets_a_content_length() -> None:
    routes = Routes()

    @routes.route("/short")
    async def short(exchange: HTTPExchange) -> None:
        exchange.start_response(201, [(b"x-a", b"1")])
        exchange.end_response(b"tiny")

    with serve_h2(routes) as srv, httpx.Client(http1=False, http2=True) as client:
        response = client.get(f"{srv.url}/short")
    assert response.status_code == 201
    assert response.headers["content-length"] == "4"
    assert response.text == "tiny"


def test_head_keeps_content_length_and_sends_no_body() -> None:
    with serve_h2() as srv:
        client = RawH2(srv.port)
        stream_id = client.request(request_headers("HEAD", "/"))
        headers, body = client.response(stream_id)
        client.close()
    assert headers[b":status"] == b"200"
    assert body == b""


def test_send_file_range(tmp_path: Path) -> None:
    routes = Routes()
    path = tmp_path / "data.bin"
    data = bytes(range(256)) * 4096  # 1 MiB
    path.write_bytes(data)

    @routes.route("/file")
    async def file(exchange: HTTPExchange) -> None:
        await exchange.send_file(200, [(b"content-type", b"x/y")], str(path), 1000, 500_000)

    @routes.route("/missing")
    async def missing(exchange: HTTPExchange) -> None:
        try:
            await exchange.send_file(200, [], str(tmp_path / "nope"))
        except FileNotFoundError:
            exchange.send_response(404, [], b"gone")

    with serve_h2(routes) as srv, httpx.Client(http1=False, http2=True) as client:
        response = client.get(f"{srv.url}/file")
        missing_response = client.get(f"{srv.url}/missing")
    assert response.headers["content-length"] == "500000"
    assert response.content == data[1000:501_000]
    assert missing_response.status_code == 404
    assert missing_response.text == "gone"


def test_curl_prior_knowledge() -> None:
    curl = shutil.which("curl")
    assert curl is not None, "curl is not installed"
    with serve_h2() as srv:
        result = subprocess.run(
            [
                curl,
                "-sS",
                "--http2-prior-knowledge",
                "--data-binary",
                "hello",
                "-w",
                "|%{http_version}|%{http_code}",
                f"{srv.url}/echo",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
    assert result.stdout == "hello|2|200"


def test_h2load_100_concurrent_streams() -> None:
    h2load = shutil.which("h2load")
    assert h2load is not None, "h2load is not installed (apt-get install nghttp2-client)"
    routes = Routes()

    @routes.route("/slow")
    async def slow(exchange: HTTPExchange) -> None:
        await asyncio.sleep(0.05)  # keep the streams overlapping
        exchange.send_response(200, [], b"ok")

    with serve_h2(routes) as srv:
        result = subprocess.run(
            [h2load, "-n", "1000", "-c", "2", "-m", "100", f"{srv.url}/slow"],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
    assert "1000 succeeded, 0 failed, 0 errored" in result.stdout, result.stdout
    assert "status codes: 1000 2xx" in result.stdout
    assert routes.max_active > 100  # streams of both connections were served concurrently


def test_httpx_async_multiplexes_one_connection() -> None:
    routes = Routes()

    @routes.route("/slow")
    async def slow(exchange: HTTPExchange) -> None:
        await asyncio.sleep(0.05)
        exchange.send_response(200, [], exchange.query_string)

    async def run(url: str) -> list[str]:
        async with httpx.AsyncClient(http1=False, http2=True) as client:
            responses = await asyncio.gather(*(client.get(f"{url}/slow?{i}") for i in range(50)))
        return [r.text for r in responses]

    with serve_h2(routes) as srv:
        texts = asyncio.run(run(srv.url))
    assert texts == [str(i) for i in range(50)]
    assert len({id(e.conn) for e in routes.seen}) == 1  # one connection
    assert routes.max_active > 1


# -- flow control -------------------------------------------------------------------------------
def test_slow_consumer_does_not_block_other_streams() -> None:
    """A stream whose handler does not read holds at most its own window, not the link."""
    routes = Routes()
    release = threading.Event()
    window = 256 * 1024

    @routes.route("/hold")
    async def hold(exchange: HTTPExchange) -> None:
        routes.notes["held"] = exchange
        while not release.is_set():
            await asyncio.sleep(0.01)
        await _default(exchange)

    payload = b"h" * (2 * 1024 * 1024)
    with serve_h2(
        routes,
        http2_initial_stream_window_size=window,
        http2_initial_connection_window_size=window,
    ) as srv:
        client = RawH2(srv.port)
        held = client.request(request_headers("POST", "/hold"), end=False)
        sent_held = _send_what_fits(client, held, payload)
        assert sent_held <= window  # the client is stopped by the stream window
        # Meanwhile another stream uploads several connection windows and is answered.
        other = client.request(request_headers("POST", "/echo"), end=False)
        body = b"o" * (4 * window)
        offset = 0
        while offset < len(body):
            offset += _send_what_fits(client, other, body[offset:])
            client.read(0.2)
        client.conn.end_stream(other)
        client.flush()
        headers, echoed = client.response(other)
        assert headers[b":status"] == b"200"
        assert echoed == body
        exchange = routes.notes["held"]
        assert srv.call(lambda: exchange.buffered_body) <= window
        release.set()
        rest = payload[sent_held:]
        offset = 0
        while offset < len(rest):
            offset += _send_what_fits(client, held, rest[offset:])
            client.read(0.2)
        client.conn.end_stream(held)
        client.flush()
        headers, echoed = client.response(held)
        client.close()
    assert echoed == payload


def _send_what_fits(client: RawH2, stream_id: int, data: bytes) -> int:
    """Send as much of ``data`` as the client's windows allow; returns the count."""
    sent = 0
    while sent < len(data):
        window = client.conn.local_flow_control_window(stream_id)
        if window <= 0:
            break
        size = min(window, client.conn.max_outbound_frame_size, len(data) - sent)
        client.conn.send_data(stream_id, data[sent : sent + size])
        sent += size
    client.flush()
    return sent


def test_send_buffer_bounds_a_response_the_client_does_not_read() -> None:
    routes = Routes()
    chunk = b"c" * 65536
    limit = 100_000

    @routes.route("/flood")
    async def flood(exchange: HTTPExchange) -> None:
        assert isinstance(exchange, H2Exchange)
        exchange.start_response(200, [])
        biggest = 0
        try:
            for _ in range(800):  # 50 MiB if nothing held it back
                exchange.write(chunk)
                biggest = max(biggest, exchange.sender.buffer.size)
                if exchange.write_paused:
                    routes.notes["paused"] = True
                    await exchange.drain()
        except ClientDisconnected:
            routes.notes["disconnected"] = True
        routes.notes["biggest"] = biggest

    with serve_h2(routes, http2_max_send_buffer_size=limit) as srv:
        client = RawH2(srv.port)  # never acknowledges data: windows stay spent
        stream_id = client.request(request_headers("GET", "/flood"))
        client.wait_for(lambda e: isinstance(e, h2.events.DataReceived))
        deadline = time.monotonic() + 10
        while "paused" not in routes.notes and time.monotonic() < deadline:
            client.read(0.1)
        assert routes.notes.get("paused") is True
        client.conn.reset_stream(stream_id, h2.errors.ErrorCodes.CANCEL)
        client.flush()
        deadline = time.monotonic() + 10
        while "disconnected" not in routes.notes and time.monotonic() < deadline:
            client.read(0.1)
        client.close()
    assert routes.notes.get("disconnected") is True
    assert routes.notes["biggest"] < limit + len(chunk)


def test_adaptive_window_grows_the_windows_during_an_upload() -> None:
    routes = Routes()
    with serve_h2(
        routes,
        http2_adaptive_window=True,
        http2_initial_stream_window_size=65_535,
        http2_initial_connection_window_size=65_535,
    ) as srv:
        client = RawH2(srv.port)
        stream_id = client.request(request_headers("POST", "/echo"), end=False)
        payload = b"u" * (4 * 1024 * 1024)
        offset = 0
        deadline = time.monotonic() + 20
        while offset < len(payload) and time.monotonic() < deadline:
            offset += _send_what_fits(client, stream_id, payload[offset:])
            client.read(0.05)
        client.conn.end_stream(stream_id)
        client.flush()
        _, echoed = client.response(stream_id)
        client.close()
    assert echoed == payload
    grown = [
        e.changed_settings[h2.settings.SettingCodes.INITIAL_WINDOW_SIZE].new_value
        for e in client.events
        if isinstance(e, h2.events.RemoteSettingsChanged)
        and h2.settings.SettingCodes.INITIAL_WINDOW_SIZE in e.changed_settings
    ]
    assert max(grown) > 65_535


# -- streams: resets, trailers, lengths -------------------------------------------------------
def test_client_reset_disconnects_the_exchange() -> None:
    routes = Routes()
    done = threading.Event()

    @routes.route("/upload")
    async def upload(exchange: HTTPExchange) -> None:
        try:
            while True:
                await exchange.receive()
        except ClientDisconnected:
            routes.notes["receive"] = "disconnected"
        await asyncio.wait_for(exchange.wait_disconnect(), 5)
        routes.notes["flag"] = exchange.disconnected
        exchange.write(b"ignored")  # dropped silently
        done.set()

    with serve_h2(routes) as srv:
        client = RawH2(srv.port)
        stream_id = client.request(request_headers("POST", "/upload"), b"part", end=False)
        while not routes.seen:
            client.read(0.05)
        client.conn.reset_stream(stream_id, h2.errors.ErrorCodes.CANCEL)
        client.flush()
        assert done.wait(10)
        # The connection itself keeps working.
        other = client.request(request_headers("POST", "/echo"), b"still fine")
        _, body = client.response(other)
        client.close()
    assert routes.notes == {"receive": "disconnected", "flag": True}
    assert body == b"still fine"


def test_no_100_continue_once_the_response_started() -> None:
    routes = Routes()

    @routes.route("/early")
    async def early(exchange: HTTPExchange) -> None:
        exchange.start_response(413, [])
        exchange.send_head()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(exchange.receive(), 0.2)  # the client holds its body back
        exchange.end_response()

    with serve_h2(routes) as srv:
        client = RawH2(srv.port)
        head = request_headers("POST", "/early", expect="100-continue", content_length="4")
        stream_id = client.request(head, end=False)
        headers, _ = client.response(stream_id)
        client.close()
    assert headers[b":status"] == b"413"
    assert not [e for e in client.events if isinstance(e, h2.events.InformationalResponseReceived)]


def test_request_trailers_are_in_extensions() -> None:
    routes = Routes()

    @routes.route("/trailers")
    async def trailers(exchange: HTTPExchange) -> None:
        body = b""
        while not exchange.body_complete:
            body += await exchange.receive()
        extra = exchange.extensions()
        pairs = [[n.decode(), v.decode()] for n, v in extra.get("trailers", [])]
        exchange.send_response(200, [], json.dumps([body.decode(), pairs]).encode())

    with serve_h2(routes) as srv:
        client = RawH2(srv.port)
        stream_id = client.request(
            request_headers("POST", "/trailers", te="trailers"), b"data", end=False
        )
        client.conn.send_headers(stream_id, [(b"x-checksum", b"abc")], end_stream=True)
        client.flush()
        _, body = client.response(stream_id)
        client.close()
    assert json.loads(body) == ["data", [["x-checksum", "abc"]]]


def test_response_trailers() -> None:
    routes = Routes()

    @routes.route("/rt")
    async def response_trailers(exchange: HTTPExchange) -> None:
        assert isinstance(exchange, H2Exchange)
        exchange.start_response(200, [(b"trailer", b"x-sum")])
        exchange.write(b"payload")
        exchange.send_trailers([(b"X-Sum", b"42")])

    with serve_h2(routes) as srv:
        client = RawH2(srv.port)
        stream_id = client.request(request_headers("GET", "/rt", te="trailers"))
        _, body = client.response(stream_id)
        client.close()
    trailers = [e for e in client.events if isinstance(e, h2.events.TrailersReceived)]
    assert body == b"payload"
    assert [e.headers for e in trailers] == [[(b"x-sum", b"42")]]


def test_content_length_given_twice_is_sent_once() -> None:
    # A repeated content-length field is a malformed response to nghttp2 (curl) and h2.
    routes = Routes()

    @routes.route("/twice")
    async def twice(exchange: HTTPExchange) -> None:
        headers = [(b"content-length", b"3"), (b"Content-Length", b"3")]
        exchange.send_response(200, headers, b"abc")

    @routes.route("/conflict")
    async def conflict(exchange: HTTPExchange) -> None:
        headers = [(b"content-length", b"1"), (b"content-length", b"3")]
        exchange.send_response(200, headers, b"abc")

    with serve_h2(routes) as srv:
        client = RawH2(srv.port)
        client.conn.config.validate_inbound_headers = False  # so a repeat reaches the test
        twice_id = client.request(request_headers("GET", "/twice"))
        _, body = client.response(twice_id)
        conflict_id = client.request(request_headers("GET", "/conflict"))
        conflict_head, _ = client.response(conflict_id)
        client.close()
    received = [e for e in client.events if isinstance(e, h2.events.ResponseReceived)]
    twice_head = next(e.headers for e in received if e.stream_id == twice_id)
    assert [name for name, _ in twice_head].count(b"content-length") == 1
    assert body == b"abc"
    assert conflict_head[b":status"] == b"500"


def test_declared_content_length_is_enforced() -> None:
    routes = Routes()

    @routes.route("/short")
    async def short(exchange: HTTPExchange) -> None:
        exchange.start_response(200, [(b"content-length", b"10")])
        exchange.write(b"12345")
        exchange.end_response()

    @routes.route("/long")
    async def long(exchange: HTTPExchange) -> None:
        exchange.start_response(200, [(b"content-length", b"3")])
        exchange.write(b"12345")
        exchange.end_response(b"678")

    with serve_h2(routes) as srv:
        client = RawH2(srv.port)
        short_id = client.request(request_headers("GET", "/short"))
        client.response(short_id)
        long_id = client.request(request_headers("GET", "/long"))
        _, long_body = client.response(long_id)
        client.close()
    resets = [e for e in client.events if isinstance(e, h2.events.StreamReset)]
    assert [(e.stream_id, e.error_code) for e in resets] == [
        (short_id, h2.errors.ErrorCodes.INTERNAL_ERROR)
    ]
    assert long_body == b"123"  # truncated to what was announced, then ended cleanly


def test_response_before_body_end_stops_the_upload() -> None:
    routes = Routes()

    @routes.route("/early")
    async def early(exchange: HTTPExchange) -> None:
        exchange.send_response(413, [], b"too big")

    with serve_h2(routes) as srv:
        client = RawH2(srv.port)
        stream_id = client.request(request_headers("POST", "/early"), b"x" * 1000, end=False)
        headers, body = client.response(stream_id)
        reset = client.wait_for(lambda e: isinstance(e, h2.events.StreamReset))
        # Other streams keep working afterwards.
        other = client.request(request_headers("POST", "/echo"), b"next")
        _, other_body = client.response(other)
        client.close()
    assert headers[b":status"] == b"413"
    assert body == b"too big"
    assert isinstance(reset, h2.events.StreamReset)
    assert reset.error_code == h2.errors.ErrorCodes.NO_ERROR
    assert other_body == b"next"


@pytest.mark.parametrize("body_ends", [True, False])
def test_a_body_read_after_the_response_ends_at_once(body_ends: bool) -> None:
    # The unread body is dropped with the stream, whether or not it had all arrived: a read
    # afterwards fails at once (as on HTTP/1), never waits, never passes for a whole body.
    routes = Routes()

    @routes.route("/late-read")
    async def late_read(exchange: HTTPExchange) -> None:
        exchange.send_response(200, [], b"ok")
        await asyncio.sleep(0.05)  # the response end has been handed to the connection
        try:
            await asyncio.wait_for(exchange.read_body(), 5)
        except ClientDisconnected:
            routes.notes["late"] = "ClientDisconnected"
        assert exchange.take_received_body() is None

    with serve_h2(routes) as srv:
        client = RawH2(srv.port)
        stream_id = client.request(request_headers("POST", "/late-read"), b"abc", end=body_ends)
        _, body = client.response(stream_id)
        deadline = time.monotonic() + 5
        while "late" not in routes.notes and time.monotonic() < deadline:
            time.sleep(0.01)
        client.close()
    assert body == b"ok"
    assert routes.notes.get("late") == "ClientDisconnected"
    assert not srv.errors


def test_application_errors_become_500_and_aborts_reset_the_stream() -> None:
    routes = Routes()

    @routes.route("/boom")
    async def boom(exchange: HTTPExchange) -> None:
        raise RuntimeError("boom")

    @routes.route("/half")
    async def half(exchange: HTTPExchange) -> None:
        exchange.start_response(200, [])
        exchange.write(b"partial")
        raise RuntimeError("after start")

    with serve_h2(routes) as srv:
        client = RawH2(srv.port)
        boom_id = client.request(request_headers("GET", "/boom"))
        headers, body = client.response(boom_id)
        half_id = client.request(request_headers("GET", "/half"))
        client.response(half_id)
        client.close()
    assert headers[b":status"] == b"500"
    assert body == b"Internal server error"
    resets = [e for e in client.events if isinstance(e, h2.events.StreamReset)]
    assert [(e.stream_id, e.error_code) for e in resets] == [
        (half_id, h2.errors.ErrorCodes.INTERNAL_ERROR)
    ]


# -- connection: settings, keep-alive, shutdown -------------------------------------------------
def test_settings_follow_the_options() -> None:
    with serve_h2(
        http2_max_concurrent_streams=17,
        http2_initial_stream_window_size=123_456,
        http2_initial_connection_window_size=3_000_000,
        http2_max_frame_size=65_536,
        http2_max_headers_size=20_000,
    ) as srv:
        client = RawH2(srv.port)
        event = client.wait_for(lambda e: isinstance(e, h2.events.RemoteSettingsChanged))
        client.wait_for(lambda e: isinstance(e, h2.events.WindowUpdated))
        window = client.conn.outbound_flow_control_window
        client.close()
    assert isinstance(event, h2.events.RemoteSettingsChanged)
    codes = h2.settings.SettingCodes
    values = {code: s.new_value for code, s in event.changed_settings.items()}
    assert values[codes.MAX_CONCURRENT_STREAMS] == 17
    assert values[codes.INITIAL_WINDOW_SIZE] == 123_456
    assert values[codes.MAX_FRAME_SIZE] == 65_536
    assert values[codes.MAX_HEADER_LIST_SIZE] == 20_000
    assert window == 3_000_000


def test_keep_alive_ping_unanswered_closes_the_connection() -> None:
    with serve_h2(http2_keep_alive_interval=100, http2_keep_alive_timeout=1) as srv:
        sock = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        conn.initiate_connection()
        sock.sendall(conn.data_to_send())
        pings = 0
        closed_after = None
        start = time.monotonic()
        while time.monotonic() - start < 8:
            data = sock.recv(65536)  # read, but never send the PING ACKs h2 prepares
            if not data:
                closed_after = time.monotonic() - start
                break
            pings += sum(isinstance(e, h2.events.PingReceived) for e in conn.receive_data(data))
        sock.close()
    assert pings == 1  # one probe outstanding at a time
    assert closed_after is not None


def held_routes(body: bytes) -> tuple[Routes, threading.Event]:
    """Routes whose ``/hold`` answers ``body`` once the returned event is set."""
    routes = Routes()
    release = threading.Event()

    @routes.route("/hold")
    async def hold(exchange: HTTPExchange) -> None:
        while not release.is_set():
            await asyncio.sleep(0.01)
        exchange.send_response(200, [], body)

    return routes, release


def test_keep_alive_ping_unanswered_sends_goaway_before_closing() -> None:
    routes, release = held_routes(b"late")
    with serve_h2(routes, http2_keep_alive_interval=100, http2_keep_alive_timeout=1) as srv:
        sock = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        conn.initiate_connection()
        held = conn.get_next_available_stream_id()
        conn.send_headers(held, request_headers("GET", "/hold"), end_stream=True)
        sock.sendall(conn.data_to_send())  # and never a PING ACK: frames are read raw
        frames = RawFrames(sock)
        try:
            frames.wait_for(lambda f: isinstance(f, PingFrame))
            terminated = frames.wait_for(lambda f: isinstance(f, GoAwayFrame))
            frames.wait_closed()
        finally:
            release.set()
            sock.close()
    # Graceful code, and the stream in flight named as (maybe) processed.
    assert (terminated.error_code, terminated.last_stream_id) == (
        h2.errors.ErrorCodes.NO_ERROR,
        held,
    )


def test_keep_alive_ping_answered_keeps_the_connection() -> None:
    with serve_h2(http2_keep_alive_interval=50, http2_keep_alive_timeout=1) as srv:
        client = RawH2(srv.port)  # RawH2 sends h2's automatic PING ACKs back
        pings = 0
        while pings < 4:
            pings += sum(isinstance(e, h2.events.PingReceived) for e in client.read(2))
            assert not client.closed
        stream_id = client.request(request_headers("POST", "/echo"), b"alive")
        _, body = client.response(stream_id)
        client.close()
    assert body == b"alive"


def test_graceful_shutdown_goaway_lets_open_streams_finish() -> None:
    routes, release = held_routes(b"finished")
    with serve_h2(routes) as srv:
        client = RawH2(srv.port)
        try:
            held = client.request(request_headers("GET", "/hold"))
            while not routes.seen:
                client.read(0.05)
            srv.begin_shutdown()
            terminated = goaway(client)
            # h2 (the client library too) processes nothing after a GOAWAY: from here on
            # the test writes and reads raw frames. A stream opened now is refused...
            late = held + 2
            block = client.conn.encoder.encode(request_headers("GET", "/"))
            client.sock.sendall(
                HeadersFrame(late, block, flags=["END_HEADERS", "END_STREAM"]).serialize()
            )
            frames = RawFrames(client.sock)
            refused = frames.wait_for(lambda f: isinstance(f, RstStreamFrame))
            # ... while the open one still completes, and then the server closes.
            release.set()
            frames.wait_for(lambda f: isinstance(f, DataFrame) and "END_STREAM" in f.flags)
            frames.wait_closed()
        finally:
            release.set()
            client.close()
    assert terminated.error_code == h2.errors.ErrorCodes.NO_ERROR
    assert terminated.last_stream_id == held
    assert refused.stream_id == late
    assert refused.error_code == h2.errors.ErrorCodes.REFUSED_STREAM
    body = b"".join(f.data for f in frames.frames if isinstance(f, DataFrame))
    assert body == b"finished"


class RawFrames:
    """Reads and parses frames from a socket without any h2 state."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""
        self.frames: list[Frame] = []
        self.closed = False

    def _read(self, timeout: float) -> None:
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return
        except ConnectionResetError:
            data = b""
        if not data:
            self.closed = True
            return
        self.buffer += data
        while len(self.buffer) >= 9:
            frame, length = Frame.parse_frame_header(memoryview(self.buffer[:9]))
            if len(self.buffer) < 9 + length:
                break
            frame.parse_body(memoryview(self.buffer[9 : 9 + length]))
            self.buffer = self.buffer[9 + length :]
            self.frames.append(frame)

    def wait_for(self, predicate: Callable[[Frame], bool], timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        seen = 0
        while time.monotonic() < deadline:
            for frame in self.frames[seen:]:
                if predicate(frame):
                    return frame
            seen = len(self.frames)
            assert not self.closed, f"closed before the frame came: {self.frames!r}"
            self._read(0.5)
        raise AssertionError(f"frame not seen: {self.frames!r}")

    def wait_closed(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.closed and time.monotonic() < deadline:
            self._read(0.5)
        assert self.closed, "the server did not close the connection"


def test_connections_register_in_worker_state() -> None:
    with serve_h2() as srv:
        client = RawH2(srv.port)
        stream_id = client.request(request_headers("GET", "/"))
        client.response(stream_id)
        assert srv.call(lambda: len(srv.state.connections)) == 1
        client.close()
        deadline = time.monotonic() + 5
        while srv.call(lambda: len(srv.state.connections)) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert srv.call(lambda: len(srv.state.connections)) == 0


# -- switching from HTTP/1 on the preface ----------------------------------------------------
def test_http_auto_switches_from_http1_on_the_preface() -> None:
    """``--http auto`` on cleartext: H1Protocol hands a prior-knowledge client to HTTP/2."""
    with serve_h2(http="auto") as server, httpx.Client(http1=False, http2=True) as client:
        response = client.post(f"{server.url}/echo", content=b"switched")
        plain = httpx.post(f"{server.url}/echo", content=b"still http/1")
    assert plain.http_version == "HTTP/1.1"
    assert plain.content == b"still http/1"
    assert response.http_version == "HTTP/2"
    assert response.content == b"switched"
