"""HTTP/1.1 over real sockets: the asyncio protocol, flow control and timers, both parsers."""

from __future__ import annotations

import asyncio
import contextvars
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import httpx
import pytest
from granian_core.exchange import ClientDisconnected, HTTPExchange
from granian_core.interface import Interface

Handler = Callable[[HTTPExchange], Awaitable[None]]
#: Upper bound for any single wait on the server (a hang fails the test instead of blocking).
WAIT = 10.0


class Direct(Interface):
    """A test interface: the app is a coroutine function taking the exchange itself."""

    def handle_http(self, exchange: HTTPExchange) -> Awaitable[None]:
        return self.app(exchange)  # type: ignore[no-any-return]


async def read_body(exchange: HTTPExchange) -> bytes:
    body = b""
    while not exchange.body_complete:
        body += await exchange.receive()
    return body


async def echo(exchange: HTTPExchange) -> None:
    body = await read_body(exchange)
    exchange.send_response(
        200,
        [(b"x-path", exchange.raw_path), (b"x-method", exchange.method.encode())],
        body,
    )


# == raw-socket client =========================================================================


@dataclass
class RawResponse:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    head: bytes = b""
    chunked: bool = False

    def header(self, name: bytes) -> bytes | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None


def read_response(stream: BinaryIO, method: str = "GET") -> RawResponse:
    """Read one response; framing by status, content-length, chunked or connection close."""
    line = stream.readline()
    assert line.startswith(b"HTTP/1.1 "), line
    status = int(line.split()[1])
    head = line
    headers = []
    while True:
        line = stream.readline()
        head += line
        if line in (b"\r\n", b""):
            break
        name, _, value = line.partition(b":")
        headers.append((name.strip().lower(), value.strip()))
    response = RawResponse(status, headers, b"", head)
    if method == "HEAD" or status < 200 or status in (204, 304):
        return response
    length = response.header(b"content-length")
    if response.header(b"transfer-encoding") == b"chunked":
        response.chunked = True
        response.body = read_chunked(stream)
    elif length is not None:
        response.body = stream.read(int(length))
    else:
        response.body = stream.read()
    return response


def read_chunked(stream: BinaryIO) -> bytes:
    body = b""
    while True:
        size = int(stream.readline().strip(), 16)
        if size == 0:
            assert stream.readline() == b"\r\n"
            return body
        body += stream.read(size)
        assert stream.readline() == b"\r\n"


@contextmanager
def connect(port: int, timeout: float = WAIT) -> Iterator[tuple[socket.socket, BinaryIO]]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    stream = sock.makefile("rb")
    try:
        yield sock, stream
    finally:
        stream.close()
        sock.close()


def closed_by_server(sock: socket.socket, stream: BinaryIO) -> bool:
    """True once the server closed the connection (EOF, or a reset)."""
    try:
        return stream.read(1) == b""
    except ConnectionResetError:
        return True


def get(path: str = "/", extra: bytes = b"", version: bytes = b"1.1") -> bytes:
    host = b"Host: t\r\n" if version == b"1.1" else b""
    return b"GET " + path.encode() + b" HTTP/" + version + b"\r\n" + host + extra + b"\r\n"


@pytest.fixture
def run(serve: Any, parser: str) -> Callable[..., Any]:
    """``with run(handler, **config) as srv``: the handler served with the parametrized parser."""

    def start(handler: Handler, **options: Any) -> Any:
        options.setdefault("http1_parser", parser)
        return serve(handler, interface=Direct, **options)

    return start


# == keep-alive and framing =====================================================================


def test_keep_alive_serves_many_requests_on_one_connection(run: Any) -> None:
    with run(echo) as srv, connect(srv.port) as (sock, stream):
        for i in range(3):
            sock.sendall(get(f"/n{i}"))
            response = read_response(stream)
            assert response.status == 200
            assert response.header(b"x-path") == f"/n{i}".encode()
            assert response.header(b"connection") is None
            assert response.header(b"server") == b"granian"
            assert response.header(b"date") is not None


def test_no_keep_alive_closes_after_each_response(run: Any) -> None:
    with run(echo, http1_keep_alive=False) as srv, connect(srv.port) as (sock, stream):
        sock.sendall(get("/a") + get("/b"))
        response = read_response(stream)
        assert response.header(b"x-path") == b"/a"
        assert response.header(b"connection") == b"close"
        assert closed_by_server(sock, stream)


def test_client_connection_close_is_honoured(run: Any) -> None:
    with run(echo) as srv, connect(srv.port) as (sock, stream):
        sock.sendall(get("/a", b"Connection: close\r\n"))
        response = read_response(stream)
        assert response.header(b"connection") == b"close"
        assert closed_by_server(sock, stream)


def test_pipelined_requests_are_answered_in_order(run: Any) -> None:
    async def slow_first(exchange: HTTPExchange) -> None:
        if exchange.raw_path == b"/0":
            await asyncio.sleep(0.05)  # a later request must still wait for this one
        await echo(exchange)

    post = b"POST /1 HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nbody"
    with run(slow_first) as srv, connect(srv.port) as (sock, stream):
        sock.sendall(get("/0") + post + get("/2") + get("/3"))
        responses = [read_response(stream) for _ in range(4)]
    assert [r.header(b"x-path") for r in responses] == [b"/0", b"/1", b"/2", b"/3"]
    assert responses[1].body == b"body"


def test_a_deep_pipeline_of_handlers_that_never_wait_is_answered_whole(run: Any) -> None:
    # On 3.12+ a handler's first step runs inside dispatch, and a handler that never waits
    # ends its response there, which starts the next pipelined request: thousands of them
    # must not nest one inside the other (RecursionError), nor be dropped.
    count = 3000
    with run(echo) as srv, connect(srv.port) as (sock, stream):
        sock.sendall(b"".join(get(f"/{i}") for i in range(count)))
        paths = [read_response(stream).header(b"x-path") for _ in range(count)]
        assert paths == [f"/{i}".encode() for i in range(count)]
        sock.sendall(get("/after"))
        assert read_response(stream).header(b"x-path") == b"/after"


def test_each_handler_runs_in_its_own_task_and_context(run: Any) -> None:
    # Eagerly started or not, a handler is the current task from its first line to its
    # end (asyncio.timeout and anyio need that), and context variables set by one request
    # are not seen by the next one on the same connection.
    seen: list[tuple[bool, bool, str]] = []
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")

    async def handler(exchange: HTTPExchange) -> None:
        before = var.get()
        var.set(exchange.raw_path.decode())
        first = asyncio.current_task()
        if exchange.raw_path == b"/waits":
            await asyncio.sleep(0)
        same = asyncio.current_task() is first
        seen.append((first is not None, same, before))
        exchange.send_response(200, [], b"")

    with run(handler) as srv, connect(srv.port) as (sock, stream):
        sock.sendall(get("/now") + get("/waits") + get("/now2"))
        assert [read_response(stream).status for _ in range(3)] == [200, 200, 200]
    assert seen == [(True, True, "unset")] * 3


def test_a_queued_request_does_not_inherit_the_context_of_the_one_it_waited_for(
    run: Any,
) -> None:
    # With --backpressure 1, the second connection's request starts when the first ends,
    # from inside the first one's task: it must still start from the worker's context.
    seen: dict[str, str] = {}
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")

    async def handler(exchange: HTTPExchange) -> None:
        path = exchange.raw_path.decode()
        seen[path] = var.get()
        var.set(path)
        if path == "/first":
            await asyncio.sleep(0.2)  # the second request arrives and queues meanwhile
        exchange.send_response(200, [], b"")

    with (
        run(handler, backpressure=1) as srv,
        connect(srv.port) as (first, first_stream),
        connect(srv.port) as (second, stream),
    ):
        first.sendall(get("/first"))
        time.sleep(0.05)
        second.sendall(get("/second"))
        assert read_response(first_stream).status == 200
        assert read_response(stream).status == 200
    assert seen == {"/first": "unset", "/second": "unset"}


def test_pipeline_flush_mode_answers_in_order(run: Any) -> None:
    with run(echo, http1_pipeline_flush=True) as srv, connect(srv.port) as (sock, stream):
        sock.sendall(b"".join(get(f"/{i}") for i in range(10)))
        paths = [read_response(stream).header(b"x-path") for _ in range(10)]
        assert paths == [f"/{i}".encode() for i in range(10)]
        sock.sendall(get("/later"))
        assert read_response(stream).header(b"x-path") == b"/later"


def test_request_bodies_content_length_and_chunked(run: Any) -> None:
    with run(echo) as srv, connect(srv.port) as (sock, stream):
        sock.sendall(b"POST /cl HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world")
        assert read_response(stream).body == b"hello world"
        sock.sendall(
            b"POST /ch HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n\r\n"
        )
        assert read_response(stream).body == b"hello world"


def test_large_bodies_both_ways_with_httpx(run: Any) -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB

    async def chunks() -> Any:
        for i in range(0, len(payload), 100_000):
            yield payload[i : i + 100_000]

    async def stream_back(exchange: HTTPExchange) -> None:
        body = await read_body(exchange)
        exchange.start_response(200, [(b"content-type", b"application/octet-stream")])
        for i in range(0, len(body), 65536):
            exchange.write(body[i : i + 65536])
            if exchange.write_paused:
                await exchange.drain()
        exchange.end_response()

    async def client(url: str) -> None:
        async with httpx.AsyncClient(timeout=WAIT) as http:
            fixed = await http.post(url, content=payload)
            chunked = await http.post(url, content=chunks())
        for response in (fixed, chunked):
            assert response.status_code == 200
            assert response.headers["transfer-encoding"] == "chunked"
            assert response.content == payload

    with run(stream_back) as srv:
        asyncio.run(client(srv.url))


def test_short_streamed_response_gets_a_content_length(run: Any) -> None:
    async def handler(exchange: HTTPExchange) -> None:
        exchange.start_response(200, [])
        exchange.write(b"")
        exchange.end_response(b"short")

    with run(handler) as srv, connect(srv.port) as (sock, stream):
        sock.sendall(get())
        response = read_response(stream)
        assert response.header(b"content-length") == b"5"
        assert not response.chunked
        assert response.body == b"short"


def test_send_head_sends_a_held_back_head_before_any_body(run: Any) -> None:
    gate = threading.Event()  # set by the client once it has read the head

    async def handler(exchange: HTTPExchange) -> None:
        exchange.start_response(200, [(b"x-early", b"1")])
        exchange.send_head()
        exchange.send_head()  # once sent, nothing more
        while not gate.is_set():
            await asyncio.sleep(0.01)
        exchange.end_response(b"late")

    with run(handler) as srv, connect(srv.port) as (sock, stream):
        sock.sendall(get())
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            head += stream.readline()
        gate.set()
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        assert b"x-early: 1\r\n" in head
        assert b"transfer-encoding: chunked\r\n" in head
        assert read_chunked(stream) == b"late"


def test_app_content_length_too_long_body_is_cut_and_closed(run: Any) -> None:
    async def handler(exchange: HTTPExchange) -> None:
        exchange.start_response(200, [(b"content-length", b"3")])
        exchange.write(b"abcdef")
        exchange.end_response()

    with run(handler) as srv, connect(srv.port) as (sock, stream):
        sock.sendall(get() + get())
        response = read_response(stream)
        assert response.body == b"abc"
        assert closed_by_server(sock, stream)


def test_app_content_length_given_twice_is_sent_once(run: Any) -> None:
    # Two content-length lines, even equal, make llhttp (Node) refuse the response.
    async def handler(exchange: HTTPExchange) -> None:
        headers = [(b"content-length", b"3"), (b"Content-Length", b" 3")]
        exchange.send_response(200, headers, b"abc")

    with run(handler) as srv, connect(srv.port) as (sock, stream):
        sock.sendall(get() + get())
        for _ in range(2):  # the same head again, as remembered by prepare_head
            response = read_response(stream)
            assert response.head.lower().count(b"content-length:") == 1
            assert response.body == b"abc"


def test_app_content_lengths_that_disagree_are_a_500(run: Any) -> None:
    async def handler(exchange: HTTPExchange) -> None:
        headers = [(b"content-length", b"1"), (b"content-length", b"3")]
        exchange.send_response(200, headers, b"abc")

    with run(handler) as srv, connect(srv.port) as (sock, stream):
        sock.sendall(get())
        response = read_response(stream)
        assert response.status == 500
        assert response.head.lower().count(b"content-length:") == 1


def test_head_has_length_and_no_body(run: Any) -> None:
    async def handler(exchange: HTTPExchange) -> None:
        exchange.send_response(200, [], b"0123456789")

    with run(handler) as srv, connect(srv.port) as (sock, stream):
        sock.sendall(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n" + get())
        head = read_response(stream, "HEAD")
        assert head.header(b"content-length") == b"10"
        following = read_response(stream)  # no stray body bytes in between
        assert following.body == b"0123456789"


def test_expect_100_continue(run: Any) -> None:
    with run(echo) as srv, connect(srv.port) as (sock, stream):
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"
        )
        assert stream.readline() == b"HTTP/1.1 100 Continue\r\n"
        assert stream.readline() == b"\r\n"
        sock.sendall(b"data")
        response = read_response(stream)
        assert response.status == 200
        assert response.body == b"data"


def test_expect_100_continue_not_sent_when_app_does_not_read(run: Any) -> None:
    async def refuse(exchange: HTTPExchange) -> None:
        exchange.send_response(413, [], b"too big")

    with run(refuse) as srv, connect(srv.port) as (sock, stream):
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 9999\r\n\r\n"
        )
        response = read_response(stream)
        assert response.status == 413
        assert response.body == b"too big"
        assert closed_by_server(sock, stream)  # the held-back body makes the connection unusable


def test_unread_small_body_is_discarded_and_connection_kept(run: Any) -> None:
    async def ignore_body(exchange: HTTPExchange) -> None:
        exchange.send_response(200, [(b"x-path", exchange.raw_path)], b"ok")

    with run(ignore_body) as srv, connect(srv.port) as (sock, stream):
        sock.sendall(b"POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n")
        assert read_response(stream).header(b"x-path") == b"/a"
        sock.sendall(b"abcde" + get("/b"))
        assert read_response(stream).header(b"x-path") == b"/b"


def test_a_large_unread_body_ends_the_connection_without_a_reset(run: Any) -> None:
    # Beyond the discard limit the connection closes. Closing with the client's bytes
    # unread made the kernel send a reset, which can destroy the response before the
    # client read it; the server half-closes and drains instead (RFC 9112 §9.6).
    async def ignore_body(exchange: HTTPExchange) -> None:
        exchange.send_response(200, [], b"ok")

    body = b"x" * (4 * 1024 * 1024)
    errors: list[BaseException] = []
    with run(ignore_body) as srv, connect(srv.port) as (sock, stream):

        def upload() -> None:
            try:
                sock.sendall(
                    b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(body)
                )
                sock.sendall(body)
            except OSError as exc:
                errors.append(exc)

        sender = threading.Thread(target=upload)
        sender.start()
        response = read_response(stream)
        assert (response.status, response.body) == (200, b"ok")
        # The rest of the body will not be read: the response says so, as Granian's does.
        assert response.header(b"connection") == b"close"
        assert stream.read() == b""  # the server's FIN, not a reset
        sender.join(WAIT)
    assert not errors


# == errors and limits ==========================================================================


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"THIS IS NOT HTTP\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nBad Header\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
    ],
)
def test_malformed_request_gets_error_and_close(run: Any, raw: bytes, status: int) -> None:
    with run(echo) as srv, connect(srv.port) as (sock, stream):
        sock.sendall(raw)
        response = read_response(stream)
        assert response.status == status
        assert response.body == b""
        assert response.header(b"content-length") == b"0"
        assert response.header(b"connection") == b"close"
        assert response.header(b"server") == b"granian"
        assert closed_by_server(sock, stream)


def test_malformed_body_after_a_response_started_but_unwritten_is_a_400(run: Any) -> None:
    # The app started its response (nothing written yet), then read a body with a bad
    # chunk size: nothing of the app's reached the wire, so the client still gets a 400.
    async def starts_then_reads(exchange: HTTPExchange) -> None:
        exchange.start_response(200, [])
        await read_body(exchange)

    with run(starts_then_reads) as srv, connect(srv.port) as (sock, stream):
        sock.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
        response = read_response(stream)
        assert response.status == 400
        assert response.header(b"connection") == b"close"
        assert closed_by_server(sock, stream)


def test_malformed_pipelined_request_after_a_good_one(run: Any) -> None:
    with run(echo) as srv, connect(srv.port) as (sock, stream):
        sock.sendall(get("/ok") + b"NONSENSE\r\n\r\n")
        assert read_response(stream).header(b"x-path") == b"/ok"
        assert read_response(stream).status == 400
        assert closed_by_server(sock, stream)


def test_oversize_head_is_431(run: Any) -> None:
    with run(echo, http1_buffer_size=8192) as srv, connect(srv.port) as (sock, stream):
        sock.sendall(get("/", b"X-Big: " + b"a" * 20000 + b"\r\n"))
        response = read_response(stream)
        assert response.status == 431
        assert response.header(b"connection") == b"close"
        assert closed_by_server(sock, stream)


def test_header_read_timeout_closes_a_stalled_client(run: Any) -> None:
    with run(echo, http1_header_read_timeout=300) as srv, connect(srv.port) as (sock, stream):
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n")  # never finished
        assert closed_by_server(sock, stream)


def test_header_read_timeout_closes_an_idle_keep_alive_connection(run: Any) -> None:
    with run(echo, http1_header_read_timeout=300) as srv, connect(srv.port) as (sock, stream):
        sock.sendall(get("/a"))
        assert read_response(stream).status == 200
        assert closed_by_server(sock, stream)


def test_header_read_timeout_does_not_cut_a_slow_handler(run: Any) -> None:
    async def slow(exchange: HTTPExchange) -> None:
        await asyncio.sleep(0.6)  # twice the head timeout: the timer must be off meanwhile
        exchange.send_response(200, [], b"done")

    with run(slow, http1_header_read_timeout=300) as srv, connect(srv.port) as (sock, stream):
        sock.sendall(get())
        assert read_response(stream).body == b"done"


# == flow control ===============================================================================


@dataclass
class Probe:
    """Facts a handler reports from the server thread."""

    event: threading.Event = field(default_factory=threading.Event)
    go: threading.Event = field(default_factory=threading.Event)
    values: dict[str, Any] = field(default_factory=dict)


async def wait_thread_event(event: threading.Event) -> None:
    deadline = time.monotonic() + WAIT
    while not event.is_set() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)


def test_request_body_is_not_buffered_without_bound(run: Any) -> None:
    total = 8 * 1024 * 1024
    buffer_size = 65536
    probe = Probe()

    async def lazy_reader(exchange: HTTPExchange) -> None:
        await wait_thread_event(probe.go)  # the client has sent all it could
        protocol = exchange._proto  # type: ignore[attr-defined]
        probe.values["buffered"] = protocol._conn.buffered
        probe.values["paused"] = protocol._read_paused
        body = await read_body(exchange)
        exchange.send_response(200, [], str(len(body)).encode())

    with (
        run(lazy_reader, http1_buffer_size=buffer_size) as srv,
        connect(srv.port) as (sock, stream),
    ):
        sock.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % total)
        chunk = b"x" * 65536
        sent = 0
        sock.settimeout(0.5)
        try:
            while sent < total:
                sent += sock.send(chunk[: total - sent])
        except TimeoutError:
            pass  # the server stopped reading: the client's send blocks
        probe.go.set()
        sock.settimeout(WAIT)
        sock.sendall(b"x" * (total - sent))
        response = read_response(stream)
    assert response.body == str(total).encode()
    assert sent < total
    assert probe.values["paused"] is True
    # At most the buffer size plus one read of the transport (256 KiB on asyncio, less on uvloop).
    assert probe.values["buffered"] <= buffer_size + 256 * 1024


@pytest.mark.parametrize("chunk_size", [1024 * 1024, 1024], ids=["1MiB", "1KiB"])
def test_write_backpressure_blocks_drain(run: Any, chunk_size: int) -> None:
    """A client that does not read stalls the handler. With 1 KiB writes this also bounds
    the bytes a connection holds for the worker's next flush (granian_core.coalesce):
    an unbounded hold would never pause the transport."""
    total = 50 * 1024 * 1024
    chunk = b"y" * chunk_size
    probe = Probe()

    async def big_stream(exchange: HTTPExchange) -> None:
        exchange.start_response(200, [(b"content-length", str(total).encode())])
        written = 0
        while written < total:
            exchange.write(chunk)
            written += len(chunk)
            probe.values["written"] = written
            if exchange.write_paused:
                probe.event.set()
                await exchange.drain()
        exchange.end_response()

    with run(big_stream) as srv, connect(srv.port) as (sock, stream):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.sendall(get())
        assert probe.event.wait(WAIT)
        time.sleep(0.2)  # the handler gets every chance to run ahead; it must stay blocked
        assert probe.values["written"] < total // 4
        response = read_response(stream)
    assert len(response.body) == total
    assert probe.values["written"] == total


def test_held_bytes_keep_their_order_around_large_writes(run: Any) -> None:
    """Held small pieces go out before a large piece written directly, and after it."""
    pieces = [b"a" * 10, bytes(range(256)) * 1024, b"b" * 100, b"c" * 70_000, b"d"]

    async def mixed(exchange: HTTPExchange) -> None:
        exchange.start_response(200, [])
        for piece in pieces:
            exchange.write(piece)
        exchange.end_response(b"end")

    with run(mixed) as srv, connect(srv.port) as (sock, stream):
        for _ in range(2):  # and again on the same connection, after a held response end
            sock.sendall(get())
            response = read_response(stream)
            assert response.chunked
            assert response.body == b"".join(pieces) + b"end"


def test_pipelining_client_that_does_not_read_is_not_answered_ahead(run: Any) -> None:
    count = 60
    body = b"z" * (256 * 1024)
    buffered: list[int] = []

    async def big(exchange: HTTPExchange) -> None:
        transport = exchange._proto._transport  # type: ignore[attr-defined]
        buffered.append(transport.get_write_buffer_size())
        exchange.send_response(200, [], body)

    with run(big) as srv, connect(srv.port) as (sock, stream):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.sendall(get() * count)
        time.sleep(0.3)  # the server gets every chance to answer ahead; it must not
        assert len(buffered) < count
        responses = [read_response(stream) for _ in range(count)]
    assert all(r.body == body for r in responses)
    assert len(buffered) == count
    # Each request waited for the write buffer to drain below its high-water mark.
    assert max(buffered) <= 256 * 1024


# == disconnects =================================================================================


def test_client_disconnect_mid_body_raises_client_disconnected(run: Any) -> None:
    probe = Probe()

    async def reader(exchange: HTTPExchange) -> None:
        try:
            await read_body(exchange)
        except ClientDisconnected:
            probe.values["raised"] = True
        probe.values["disconnected"] = exchange.disconnected
        await asyncio.wait_for(exchange.wait_disconnect(), WAIT)
        exchange.send_response(200, [], b"nobody listens")  # silently dropped
        probe.event.set()

    with run(reader) as srv:
        with connect(srv.port) as (sock, _stream):
            sock.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\npartial")
            time.sleep(0.05)
        assert probe.event.wait(WAIT)
    assert probe.values == {"raised": True, "disconnected": True}


def test_wait_disconnect_resolves_when_client_leaves(run: Any) -> None:
    probe = Probe()

    async def waiter(exchange: HTTPExchange) -> None:
        probe.go.set()
        await asyncio.wait_for(exchange.wait_disconnect(), WAIT)
        probe.values["disconnected"] = exchange.disconnected
        probe.event.set()

    with run(waiter) as srv:
        with connect(srv.port) as (sock, _stream):
            sock.sendall(get())
            assert probe.go.wait(WAIT)
        assert probe.event.wait(WAIT)
    assert probe.values["disconnected"] is True


# == files =======================================================================================


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "data.bin"
    path.write_bytes(bytes(range(256)) * 8192)  # 2 MiB
    return path


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_send_file(run: Any, data_file: Path, loop: str) -> None:
    content = data_file.read_bytes()

    async def files(exchange: HTTPExchange) -> None:
        query = exchange.query_string
        if query == b"missing":
            try:
                await exchange.send_file(200, [], str(data_file) + ".nope")
            except FileNotFoundError:
                exchange.send_response(404, [], b"no such file")
            return
        if query == b"range":
            await exchange.send_file(206, [], str(data_file), offset=1000, count=5000)
            return
        await exchange.send_file(
            200, [(b"content-type", b"application/octet-stream")], str(data_file)
        )

    with run(files, loop=loop) as srv, connect(srv.port) as (sock, stream):
        sock.sendall(
            get("/") + get("/?range") + get("/?missing") + b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n"
        )
        whole = read_response(stream)
        assert whole.header(b"content-length") == str(len(content)).encode()
        assert whole.body == content
        part = read_response(stream)
        assert part.status == 206
        assert part.body == content[1000:6000]
        missing = read_response(stream)
        assert (missing.status, missing.body) == (404, b"no such file")
        head = read_response(stream, "HEAD")
        assert head.header(b"content-length") == str(len(content)).encode()
        sock.sendall(get("/?range"))
        assert read_response(stream).body == content[1000:6000]


# == HTTP/1.0 ====================================================================================


def test_http10_closes_by_default(run: Any) -> None:
    with run(echo) as srv, connect(srv.port) as (sock, stream):
        sock.sendall(get("/old", version=b"1.0"))
        response = read_response(stream)
        assert response.header(b"x-path") == b"/old"
        assert response.header(b"connection") == b"close"
        assert closed_by_server(sock, stream)


def test_http10_keep_alive(run: Any) -> None:
    with run(echo) as srv, connect(srv.port) as (sock, stream):
        for path in ("/a", "/b"):
            sock.sendall(get(path, b"Connection: keep-alive\r\n", version=b"1.0"))
            response = read_response(stream)
            assert response.header(b"connection") == b"keep-alive"
            assert response.header(b"x-path") == path.encode()


def test_http10_streamed_response_is_close_delimited(run: Any) -> None:
    async def streamer(exchange: HTTPExchange) -> None:
        exchange.start_response(200, [])
        exchange.write(b"part one, ")
        exchange.write(b"part two")
        exchange.end_response()

    with run(streamer) as srv, connect(srv.port) as (sock, stream):
        sock.sendall(get("/", b"Connection: keep-alive\r\n", version=b"1.0"))
        response = read_response(stream)
        assert response.header(b"transfer-encoding") is None
        assert response.header(b"content-length") is None
        assert response.body == b"part one, part two"


# == request facts and shutdown ===================================================================


def test_request_facts(run: Any) -> None:
    seen: dict[str, Any] = {}

    async def facts(exchange: HTTPExchange) -> None:
        seen.update(
            method=exchange.method,
            version=exchange.http_version,
            raw_path=exchange.raw_path,
            path=exchange.path,
            query=exchange.query_string,
            authority=exchange.authority,
            headers=exchange.headers,
            client=exchange.conn.client,
            server=exchange.conn.server,
            scheme=exchange.conn.scheme,
        )
        exchange.send_response(204, [])

    with run(facts) as srv, connect(srv.port) as (sock, stream):
        port = srv.port
        sock.sendall(b"GET /a%20b/c?x=1&y HTTP/1.1\r\nHost: t\r\nX-Custom: Value\r\n\r\n")
        assert read_response(stream).status == 204
        sock.sendall(b"OPTIONS http://example.com:8080/abs?q HTTP/1.1\r\nHost: t\r\n\r\n")
        assert read_response(stream).status == 204
    assert seen["method"] == "OPTIONS"
    assert seen["raw_path"] == b"/abs"
    assert seen["query"] == b"q"
    assert seen["authority"] == "example.com:8080"
    assert seen["scheme"] == "http"
    assert seen["client"][0] == "127.0.0.1"
    assert seen["server"] == ("127.0.0.1", port)


def test_request_path_decoding(run: Any) -> None:
    seen: dict[str, Any] = {}

    async def facts(exchange: HTTPExchange) -> None:
        seen.update(raw=exchange.raw_path, path=exchange.path, query=exchange.query_string)
        seen["headers"] = exchange.headers
        exchange.send_response(204, [])

    with run(facts) as srv, connect(srv.port) as (sock, stream):
        sock.sendall(b"GET /a%20b/%E2%82%AC?x=1 HTTP/1.1\r\nHost: t\r\nX-Custom: Value\r\n\r\n")
        assert read_response(stream).status == 204
    assert seen["raw"] == b"/a%20b/%E2%82%AC"
    assert seen["path"] == "/a b/\u20ac"
    assert seen["query"] == b"x=1"
    assert seen["headers"] == [(b"host", b"t"), (b"x-custom", b"Value")]


def test_graceful_shutdown_finishes_the_in_flight_response(run: Any) -> None:
    probe = Probe()

    async def slow(exchange: HTTPExchange) -> None:
        probe.event.set()
        await wait_thread_event(probe.go)
        exchange.send_response(200, [], b"finished")

    server = ExitStack()
    srv = server.enter_context(run(slow))
    with connect(srv.port) as (sock, stream):
        sock.sendall(get())
        assert probe.event.wait(WAIT)
        stopper = threading.Thread(target=server.close)  # stop() + wait, as at the end of a test
        stopper.start()
        time.sleep(0.1)  # the worker is shutting down while the handler still runs
        probe.go.set()
        response = read_response(stream)
        assert response.body == b"finished"
        assert response.header(b"connection") == b"close"
        assert closed_by_server(sock, stream)
    stopper.join(WAIT)
    assert not stopper.is_alive()
