"""Micro-benchmarks of the per-request hot paths (pytest-benchmark).

In the normal suite they run once each (``--benchmark-disable`` in pytest.ini), so they
stay correct. Measure with::

    hatch run pytest tests/test_bench_hotpaths.py --benchmark-enable

Nothing here asserts a time.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import pytest
from granian_core.exchange import ConnectionInfo, Headers, HTTPExchange

# A browser-like GET: the head most servers see most often.
REQUEST = (
    b"GET /api/items?page=2&sort=name HTTP/1.1\r\n"
    b"Host: example.com\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0\r\n"
    b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    b"Accept-Language: en-US,en;q=0.5\r\n"
    b"Accept-Encoding: gzip, deflate, br\r\n"
    b"Connection: keep-alive\r\n"
    b"Cookie: session=0123456789abcdef; theme=dark\r\n"
    b"\r\n"
)
REQUEST_HEADER_COUNT = 7
RESPONSE_HEADERS: Headers = [(b"content-type", b"text/plain"), (b"x-request-id", b"abc123")]
RESPONSE_BODY = b"Hello, World!"
MAX_HEAD = 65536
PARSERS = ["h11", "httptools"]


def _lazy(name: str) -> ModuleType:
    return importlib.import_module(name)


class StaticExchange(HTTPExchange):
    """An exchange with fixed request facts, for scope/environ builders (no I/O involved)."""

    def __init__(self) -> None:
        self.conn = ConnectionInfo(client=("127.0.0.1", 51234), server=("127.0.0.1", 8000))
        self.method = "GET"
        self.http_version = "1.1"
        self.raw_path = b"/api/items"
        self.query_string = b"page=2&sort=name"
        self.headers = [
            (b"host", b"example.com"),
            (b"user-agent", b"Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0"),
            (b"accept", b"text/html,application/xhtml+xml"),
            (b"accept-encoding", b"gzip, deflate, br"),
            (b"cookie", b"session=0123456789abcdef; theme=dark"),
        ]
        self.authority = None
        self.status = 0
        self.response_started = self.response_complete = False
        self.body_complete = True
        self.disconnected = False

    async def receive(self) -> bytes:
        return b""

    async def wait_disconnect(self) -> None:
        return None

    def send_response(self, status: int, headers: Headers, body: bytes = b"") -> None:
        raise NotImplementedError

    def start_response(self, status: int, headers: Headers) -> None:
        raise NotImplementedError

    def write(self, data: bytes) -> None:
        raise NotImplementedError

    @property
    def write_paused(self) -> bool:
        return False

    async def drain(self) -> None:
        return None

    def end_response(self, data: bytes = b"") -> None:
        raise NotImplementedError

    async def send_file(
        self, status: int, headers: Headers, path: str, offset: int = 0, count: int | None = None
    ) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError


# -- HTTP/1 request parsing ---------------------------------------------------------------


@pytest.mark.parametrize("parser_name", PARSERS)
def test_parse_request(benchmark: Any, parser_name: str) -> None:
    """One keep-alive request through a long-lived parser: bytes in, events out."""
    parsers = _lazy("granian_core.http1.parsers")
    if parser_name == "httptools":
        _lazy("httptools")
    parser = parsers.make_parser(parser_name, MAX_HEAD)

    def parse_one() -> list[Any]:
        parser.feed(REQUEST)
        events = list(parser.events)
        parser.events.clear()
        parser.buffered = 0
        return events

    events = benchmark(parse_one)
    head, end = events
    assert head.method == "GET"
    assert head.target == b"/api/items?page=2&sort=name"
    assert head.http_version == "1.1"
    assert len(head.headers) == REQUEST_HEADER_COUNT
    assert head.headers[0] == (b"host", b"example.com")
    assert head.keep_alive is True
    assert type(end).__name__ == "EndOfBody"


# -- response head serialization ---------------------------------------------------------


def _connection(parser_name: str) -> Any:
    parsers = _lazy("granian_core.http1.parsers")
    connection = _lazy("granian_core.http1.connection")
    return connection.H1Connection(parsers.make_parser(parser_name, MAX_HEAD))


def test_serialize_response_head(benchmark: Any) -> None:
    """Status line + app headers + framing/server/date lines for a whole-body response."""
    conn = _connection("httptools")

    def next_request() -> tuple[tuple[()], dict[str, Any]]:
        conn.receive_data(REQUEST)
        conn.next_request()
        return (), {}

    def respond() -> tuple[bytes, bytes]:
        head_and_body: tuple[bytes, bytes] = conn.send_response(
            200, RESPONSE_HEADERS, RESPONSE_BODY
        )
        conn.start_next_cycle()
        return head_and_body

    head, body = benchmark.pedantic(respond, setup=next_request, rounds=2000, warmup_rounds=50)
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\ncontent-type: text/plain\r\n" in head
    assert b"\r\ncontent-length: 13\r\n" in head
    assert head.endswith(b"\r\n\r\n")
    assert body == RESPONSE_BODY


@pytest.mark.parametrize("parser_name", PARSERS)
def test_request_response_cycle(benchmark: Any, parser_name: str) -> None:
    """The sans-IO part of one keep-alive request: parse, respond, start the next cycle."""
    if parser_name == "httptools":
        _lazy("httptools")
    conn = _connection(parser_name)

    def cycle() -> bytes:
        conn.receive_data(REQUEST)
        conn.next_request()
        head, body = conn.send_response(200, RESPONSE_HEADERS, RESPONSE_BODY)
        conn.start_next_cycle()
        return bytes(head + body)

    wire = benchmark(cycle)
    assert wire.startswith(b"HTTP/1.1 200 OK\r\n")
    assert wire.endswith(b"\r\n\r\n" + RESPONSE_BODY)


def test_h2_request_response_cycle(benchmark: Any) -> None:
    """The sans-IO HTTP/2 part of one request on a warm connection: a HEADERS frame in
    (indexed fields, as browsers and h2load send after their first request), a HEADERS +
    DATA response out."""
    from itertools import count

    from granian_core.http2.connection import PREFACE
    from granian_core.http2.frames import FLAG_END_HEADERS, FLAG_END_STREAM, HEADERS, SETTINGS
    from granian_core.http2.frames import frame_header as header
    from granian_core.http2.settings import H2Settings, new_connection
    from hpack import Encoder

    from tests.test_http2_connection import EventLog

    log = EventLog()
    server = new_connection(H2Settings(), log)
    server.receive_data(PREFACE + header(0, SETTINGS, 0, 0))  # preface + empty SETTINGS
    request = [
        (b":method", b"GET"),
        (b":scheme", b"https"),
        (b":authority", b"example.com"),
        (b":path", b"/api/items?page=2&sort=name"),
        (b"user-agent", b"Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0"),
        (b"accept", b"text/html,application/xhtml+xml"),
    ]
    encoder = Encoder()
    blocks = [encoder.encode(request), encoder.encode(request)]  # the second: all indexed
    flags = FLAG_END_HEADERS | FLAG_END_STREAM
    stream_ids = count(1, 2)
    response = [(b":status", b"200"), *RESPONSE_HEADERS, (b"content-length", b"13")]

    def cycle() -> bytes:
        stream_id = next(stream_ids)
        block = blocks[stream_id > 1]
        server.receive_data(header(len(block), HEADERS, flags, stream_id) + block)
        server.send_headers(stream_id, response)
        server.send_data(stream_id, RESPONSE_BODY, end_stream=True)
        return server.data_to_send()

    wire = benchmark(cycle)
    assert wire.endswith(RESPONSE_BODY)
    kind, _, head, ended = log.events[-1]
    assert (kind, head.raw_path, head.query_string, ended) == (
        "request",
        b"/api/items",
        b"page=2&sort=name",
        True,
    )
    assert not server.streams  # every stream closed on both sides


# -- interface adapters: per-request scope / environ --------------------------------------


def test_asgi_scope(benchmark: Any) -> None:
    scope_module = _lazy("granian_asgi.scope")
    build = scope_module.HTTPScopeFactory("").build
    exchange = StaticExchange()
    state: dict[str, Any] = {"db": object()}

    scope = benchmark(build, exchange, state)
    assert scope["type"] == "http"
    assert scope["path"] == "/api/items"
    assert scope["query_string"] == b"page=2&sort=name"
    assert scope["headers"] == exchange.headers
    assert scope["client"] == ("127.0.0.1", 51234)
    assert scope["state"] == state
    assert scope["state"] is not state


def test_rsgi_scope(benchmark: Any) -> None:
    """Build the scope and read what a router reads: path, method, one header."""
    scope_module = _lazy("granian_rsgi.scope")
    exchange = StaticExchange()

    def build_and_route() -> tuple[str, str, str | None]:
        scope = scope_module.Scope(exchange)
        return scope.path, scope.method, scope.headers.get("host")

    assert benchmark(build_and_route) == ("/api/items", "GET", "example.com")


def test_wsgi_environ(benchmark: Any) -> None:
    environ_module = _lazy("granian_wsgi.environ")
    builder = environ_module.EnvironBuilder(None, False)
    exchange = StaticExchange()

    environ = benchmark(builder.build, exchange)
    assert environ["REQUEST_METHOD"] == "GET"
    assert environ["PATH_INFO"] == "/api/items"
    assert environ["QUERY_STRING"] == "page=2&sort=name"
    assert environ["HTTP_HOST"] == "example.com"
    assert environ["HTTP_COOKIE"] == "session=0123456789abcdef; theme=dark"
