"""The sans-IO HTTP/1.1 layer: both parsers, and the connection state machine, without sockets."""

from __future__ import annotations

import h11
import pytest
from granian_core.exchange import ResponseError
from granian_core.http1.connection import DISCARD_LIMIT, BodyError, H1Connection
from granian_core.http1.events import END_OF_BODY, BodyData, Event, ParseError, RequestHead
from granian_core.http1.parse_h11 import H11Parser
from granian_core.http1.parse_httptools import HttptoolsParser
from granian_core.http1.parsers import RequestParser, make_parser, parser_factory

MAX_HEAD = 8192
DATE = b"date: Tue, 24 Nov 2026 07:41:00 GMT\r\n"


class Source:
    date_header = DATE
    server_header = b"server: granian\r\n"


def parser_for(name: str, max_head: int = MAX_HEAD, keep_alive: bool = True) -> RequestParser:
    return make_parser(name, max_head, keep_alive)


def test_parser_factory_resolves_a_name_once_to_its_class() -> None:
    assert parser_factory("httptools") is HttptoolsParser
    assert parser_factory("h11") is H11Parser
    assert type(make_parser("h11", MAX_HEAD)) is H11Parser
    with pytest.raises(ValueError, match="unknown HTTP/1 parser 'llhttp'"):
        parser_factory("llhttp")


def drain(parser: RequestParser) -> list[Event]:
    events = list(parser.events)
    parser.events.clear()
    return events


def feed_all(name: str, data: bytes, **kwargs: object) -> list[Event]:
    parser = parser_for(name, **kwargs)  # type: ignore[arg-type]
    parser.feed(data)
    return drain(parser)


def heads_of(events: list[Event]) -> list[RequestHead]:
    return [e for e in events if isinstance(e, RequestHead)]


def body_of(events: list[Event]) -> bytes:
    return b"".join(e.data for e in events if isinstance(e, BodyData))


def make_conn(name: str, keep_alive: bool = True) -> H1Connection:
    return H1Connection(parser_for(name), keep_alive=keep_alive, header_source=Source())


def client_read(raw: bytes, method: bytes = b"GET") -> tuple[h11.Response, bytes, list[object]]:
    """Parse a response with h11's client side (an independent check of our framing)."""
    client = h11.Connection(h11.CLIENT)
    client.send(h11.Request(method=method, target="/", headers=[("host", "x")]))
    client.send(h11.EndOfMessage())
    client.receive_data(raw)
    response = None
    body = b""
    rest: list[object] = []
    while True:
        event = client.next_event()
        if isinstance(event, h11.Response):
            response = event
        elif isinstance(event, h11.Data):
            body += event.data
        elif event is h11.NEED_DATA:
            client.receive_data(b"")
            continue
        else:
            rest.append(event)
            if isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)) or event is h11.PAUSED:
                break
    assert response is not None
    return response, body, rest


def body_done(conn: H1Connection) -> bool:
    return conn.body_complete


# == parsers ===============================================================================


def test_simple_get(parser: str) -> None:
    events = feed_all(
        parser, b"GET /a/b?x=1&y=%20 HTTP/1.1\r\nHost: example\r\nX-Thing: A b\r\n\r\n"
    )
    assert len(events) == 2
    head, end = events
    assert isinstance(head, RequestHead)
    assert end is END_OF_BODY
    assert head.method == "GET"
    assert head.target == b"/a/b?x=1&y=%20"
    assert head.http_version == "1.1"
    assert head.headers == [(b"host", b"example"), (b"x-thing", b"A b")]
    assert head.keep_alive is True
    assert head.expect_continue is False
    assert head.upgrade is None


def test_byte_by_byte_equals_one_feed(parser: str) -> None:
    raw = (
        b"POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        b"GET /next HTTP/1.1\r\nHost: h\r\n\r\n"
    )
    p = parser_for(parser)
    for i in range(len(raw)):
        p.feed(raw[i : i + 1])
    events = drain(p)
    heads = heads_of(events)
    assert [h.target for h in heads] == [b"/up", b"/next"]
    assert body_of(events[: events.index(END_OF_BODY)]) == b"hello world"
    assert events[-1] is END_OF_BODY
    assert not any(isinstance(e, ParseError) for e in events)


def test_content_length_body_and_pipelining(parser: str) -> None:
    raw = (
        b"POST /one HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nabcde"
        b"PUT /two HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nxyz"
        b"GET /three HTTP/1.1\r\nHost: h\r\n\r\n"
    )
    events = feed_all(parser, raw)
    kinds = [type(e).__name__ for e in events]
    assert kinds == [
        "RequestHead", "BodyData", "EndOfBody",
        "RequestHead", "BodyData", "EndOfBody",
        "RequestHead", "EndOfBody",
    ]  # fmt: skip
    heads = heads_of(events)
    assert [h.method for h in heads] == ["POST", "PUT", "GET"]
    assert [e.data for e in events if isinstance(e, BodyData)] == [b"abcde", b"xyz"]


@pytest.mark.parametrize("piece", [1, 3, 10_000])
def test_empty_lines_before_a_request_line_are_skipped(parser: str, piece: int) -> None:
    # RFC 9112 2.2; old clients send a CRLF after a POST body, before the next request.
    raw = (
        b"\r\n\r\nPOST /one HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nab\r\n"
        b"\r\nGET /two HTTP/1.1\r\nHost: h\r\n\r\n\n\r\n"
    )
    p = parser_for(parser)
    for start in range(0, len(raw), piece):
        p.feed(raw[start : start + piece])
    events = drain(p)
    assert [e.target for e in heads_of(events)] == [b"/one", b"/two"]
    assert body_of(events) == b"ab"
    assert events[-1] is END_OF_BODY
    assert not any(isinstance(e, ParseError) for e in events)


@pytest.mark.parametrize(
    ("version", "connection", "keep_alive"),
    [
        (b"1.1", None, True),
        (b"1.1", b"close", False),
        (b"1.1", b"Keep-Alive, Close", False),
        (b"1.0", None, False),
        (b"1.0", b"keep-alive", True),
        (b"1.0", b"Keep-Alive", True),
    ],
)
def test_keep_alive_rules(
    parser: str, version: bytes, connection: bytes | None, keep_alive: bool
) -> None:
    extra = b"Connection: " + connection + b"\r\n" if connection else b""
    events = feed_all(parser, b"GET / HTTP/" + version + b"\r\nHost: h\r\n" + extra + b"\r\n")
    head = events[0]
    assert isinstance(head, RequestHead)
    assert head.http_version == version.decode()
    assert head.keep_alive is keep_alive


def test_http10_without_host_is_fine(parser: str) -> None:
    head = feed_all(parser, b"GET / HTTP/1.0\r\n\r\n")[0]
    assert isinstance(head, RequestHead)
    assert head.http_version == "1.0"


def test_expect_continue_flag(parser: str) -> None:
    raw = b"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\n"
    head = feed_all(parser, raw)[0]
    assert isinstance(head, RequestHead)
    assert head.expect_continue is True
    raw10 = b"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"
    head10 = feed_all(parser, raw10)[0]
    assert isinstance(head10, RequestHead)
    assert head10.expect_continue is False


def test_websocket_upgrade_is_flagged_and_parsing_continues(parser: str) -> None:
    raw = (
        b"GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: WebSocket\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n"
        b"GET /after HTTP/1.1\r\nHost: h\r\n\r\n"
    )
    events = feed_all(parser, raw)
    heads = heads_of(events)
    assert [h.target for h in heads] == [b"/ws", b"/after"]
    assert heads[0].upgrade == b"websocket"
    assert heads[1].upgrade is None
    assert events.count(END_OF_BODY) == 2


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"foo/1, WebSocket", b"websocket"),  # a list, websocket anywhere in it
        (b"websocket , h2c", b"websocket"),
        (b"h2c", b"h2c"),
        (b"foo, bar", b"foo, bar"),
    ],
)
def test_upgrade_is_a_list_of_protocols(parser: str, value: bytes, expected: bytes) -> None:
    raw = b"GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: " + value + b"\r\n\r\n"
    head = feed_all(parser, raw)[0]
    assert isinstance(head, RequestHead)
    assert head.upgrade == expected


def test_upgrade_header_without_connection_upgrade_is_no_upgrade(parser: str) -> None:
    head = feed_all(parser, b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n")[0]
    assert isinstance(head, RequestHead)
    assert head.upgrade is None


@pytest.mark.parametrize(
    "framing",
    [
        b"Content-Length: 5\r\n\r\nhello",
        b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    ],
)
@pytest.mark.parametrize("piece", [1, 7, 10_000])
def test_upgrade_request_with_body_keeps_its_body(parser: str, framing: bytes, piece: int) -> None:
    raw = (
        b"POST /h2c HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\n"
        b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n"
        + framing
        + b"GET /next HTTP/1.1\r\nHost: h\r\n\r\n"
    )
    p = parser_for(parser)
    for i in range(0, len(raw), piece):
        p.feed(raw[i : i + piece])
    events = drain(p)
    first_end = events.index(END_OF_BODY)
    assert body_of(events[:first_end]) == b"hello"
    heads = heads_of(events)
    assert [h.target for h in heads] == [b"/h2c", b"/next"]
    assert heads[0].upgrade == b"h2c"
    assert events[-1] is END_OF_BODY
    assert not any(isinstance(e, ParseError) for e in events)


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n\r\n", 400),  # no Host
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: x\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        (b"GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505),
        # versions llhttp does not know: 505 from both parsers, not 400 from one
        (b"GET / HTTP/1.2\r\nHost: h\r\n\r\n", 505),
        (b"GET / HTTP/3.1\r\nHost: h\r\n\r\n", 505),
        (b"GET / HTTP/1.10\r\nHost: h\r\n\r\n", 400),
        # control characters in a header value (h11 alone would let them through)
        (b"GET / HTTP/1.1\r\nHost: h\r\nX: a\x01b\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: h\r\nX: a\x1fb\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: h\x7f\r\n\r\n", 400),
        # request targets in none of RFC 9112's forms (h11 alone would take them)
        (b"GET x/ HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        (b"GET ?a=1 HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        (b"GET http:/a HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    ],
)
def test_malformed_heads(parser: str, raw: bytes, status: int) -> None:
    events = feed_all(parser, raw)
    assert not any(isinstance(e, RequestHead) for e in events)
    error = events[-1]
    assert isinstance(error, ParseError)
    assert error.status == status


@pytest.mark.parametrize(
    ("method", "target"),
    [(b"OPTIONS", b"*"), (b"GET", b"http://example.com/a?b"), (b"CONNECT", b"example.com:443")],
)
def test_request_target_forms(parser: str, method: bytes, target: bytes) -> None:
    events = feed_all(parser, method + b" " + target + b" HTTP/1.1\r\nHost: h\r\n\r\n")
    head = events[0]
    assert isinstance(head, RequestHead)
    assert (head.method, head.target) == (method.decode(), target)


def test_whitespace_around_header_values_is_not_part_of_them(parser: str) -> None:
    raw = b"GET / HTTP/1.1\r\nHost:  h \r\nX:\ta b\t \r\nY: \xffc \r\nZ:   \r\n\r\n"
    head = feed_all(parser, raw)[0]
    assert isinstance(head, RequestHead)
    assert head.headers == [(b"host", b"h"), (b"x", b"a b"), (b"y", b"\xffc"), (b"z", b"")]


def test_tabs_and_obs_text_in_header_values_are_kept(parser: str) -> None:
    events = feed_all(parser, b"GET / HTTP/1.1\r\nHost: h\r\nX: a\tb \xc3\xa9\xff\r\n\r\n")
    head = events[0]
    assert isinstance(head, RequestHead)
    assert head.headers[1] == (b"x", b"a\tb \xc3\xa9\xff")


@pytest.mark.parametrize("version", [b"0.9", b"1.2", b"2.1", b"3.0"])
def test_other_versions_are_refused_with_or_without_connection(parser: str, version: bytes) -> None:
    # The httptools parser infers "1.1" from keep-alive when no Connection header is
    # sent: that must never let another version through.
    for extra in (b"", b"Connection: keep-alive\r\n"):
        events = feed_all(parser, b"GET / HTTP/" + version + b"\r\nHost: h\r\n" + extra + b"\r\n")
        assert not any(isinstance(e, RequestHead) for e in events)
        assert isinstance(events[-1], ParseError)
        assert events[-1].status in (400, 505)


def test_bad_chunk_framing_after_head(parser: str) -> None:
    raw = b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n"
    events = feed_all(parser, raw)
    assert isinstance(events[0], RequestHead)
    assert isinstance(events[-1], ParseError)
    assert events[-1].status == 400


def test_input_after_an_error_is_ignored(parser: str) -> None:
    p = parser_for(parser)
    p.feed(b"BAD REQUEST LINE\r\n\r\n")
    p.feed(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    events = drain(p)
    assert len(events) == 1
    assert isinstance(events[0], ParseError)


def test_oversize_head_in_one_feed_is_431(parser: str) -> None:
    raw = b"GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + b"a" * MAX_HEAD + b"\r\n\r\n"
    events = feed_all(parser, raw)
    assert len(events) == 1
    assert isinstance(events[0], ParseError)
    assert events[0].status == 431


def test_oversize_head_trickled_is_431_before_it_completes(parser: str) -> None:
    p = parser_for(parser)
    p.feed(b"GET / HTTP/1.1\r\nHost: h\r\nX-Big: ")
    for _ in range(MAX_HEAD // 1000 + 2):
        p.feed(b"a" * 1000)
    events = drain(p)
    assert len(events) == 1
    assert isinstance(events[0], ParseError)
    assert events[0].status == 431


def test_head_at_the_limit_in_small_pieces_is_accepted(parser: str) -> None:
    value = b"v" * (MAX_HEAD // 2)
    raw = b"GET / HTTP/1.1\r\nHost: h\r\nX-Half: " + value + b"\r\n\r\n"
    p = parser_for(parser)
    for i in range(0, len(raw), 700):
        p.feed(raw[i : i + 700])
    events = drain(p)
    assert isinstance(events[0], RequestHead)
    assert events[0].headers[-1] == (b"x-half", value)


def test_trailer_fields_are_never_merged_into_the_head(parser: str) -> None:
    # RFC 9110 §6.5.1: an app checking Host or X-Forwarded-For must not see them from a
    # trailer (httptools reported trailer fields as headers, into the same list).
    raw = (
        b"POST /echo HTTP/1.1\r\nHost: good.example\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n0\r\nHost: evil.example\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n"
        b"GET /next HTTP/1.1\r\nHost: good.example\r\n\r\n"
    )
    # (llhttp still reads a trailer Connection or Content-Length itself: the connection
    # then ends, or the body is a 400. Stricter than needed, never merged.)
    events = feed_all(parser, raw)
    heads = heads_of(events)
    assert not any(isinstance(e, ParseError) for e in events)
    assert [h.target for h in heads] == [b"/echo", b"/next"]  # the connection goes on
    assert heads[0].headers == [(b"host", b"good.example"), (b"transfer-encoding", b"chunked")]
    assert body_of(events) == b"hello"


def test_endless_trailers_are_bounded_like_a_head(parser: str) -> None:
    p = parser_for(parser)
    p.feed(b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n")
    for _ in range(MAX_HEAD // 1000 + 2):
        p.feed(b"X-T: " + b"v" * 993 + b"\r\n")  # whole lines
    events = drain(p)
    assert isinstance(events[-1], ParseError)
    assert events[-1].status in (400, 431)
    p = parser_for(parser)
    p.feed(b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: ")
    for _ in range(MAX_HEAD // 1000 + 2):
        p.feed(b"v" * 1000)  # one line that never ends
    events = drain(p)
    assert isinstance(events[-1], ParseError)


def test_large_body_after_small_head_is_no_431(parser: str) -> None:
    body = b"b" * (MAX_HEAD * 4)
    raw = b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    raw += b"GET /next HTTP/1.1\r\nHost: h\r\n"  # a partial pipelined head in the same feed
    p = parser_for(parser)
    p.feed(raw)
    p.feed(b"\r\n")
    events = drain(p)
    assert not any(isinstance(e, ParseError) for e in events)
    assert body_of(events) == body
    assert [e.target for e in heads_of(events)] == [b"/", b"/next"]


def test_last_request_stops_the_parser(parser: str) -> None:
    raw = (
        b"GET /1 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n"
    )
    events = feed_all(parser, raw)
    assert [type(e) for e in events] == [RequestHead, type(END_OF_BODY)]
    no_keepalive = feed_all(parser, b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\n" * 3, keep_alive=False)
    assert len(no_keepalive) == 2


def test_buffered_counts_queued_bytes(parser: str) -> None:
    p = parser_for(parser)
    p.feed(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n" + b"x" * 100)
    head = p.events[0]
    assert isinstance(head, RequestHead)
    assert p.buffered == head.size + 100
    assert head.size >= len(b"Host: h\r\nContent-Length: 100\r\n")


# == connection: requests =====================================================================


def test_next_request_and_body(parser: str) -> None:
    conn = make_conn(parser)
    assert conn.next_request() is None
    conn.receive_data(b"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nhello")
    head = conn.next_request()
    assert isinstance(head, RequestHead)
    assert conn.request is head
    assert body_done(conn) is False
    assert conn.next_body() == b"hello"
    assert conn.next_body() is None
    conn.receive_data(b"world")
    assert conn.next_body() == b"world"
    assert body_done(conn) is True  # known together with the last chunk
    assert conn.next_body() == b""
    assert conn.buffered == 0


@pytest.mark.parametrize(
    "framing",
    [b"Content-Length: 15\r\n\r\n", b"Transfer-Encoding: chunked\r\n\r\n"],
)
def test_body_chunks_queued_together_are_read_as_one(parser: str, framing: bytes) -> None:
    conn = make_conn(parser)
    conn.receive_data(b"POST /p HTTP/1.1\r\nHost: h\r\n" + framing)
    assert isinstance(conn.next_request(), RequestHead)
    chunked = b"chunked" in framing
    for piece in (b"hello", b"big", b"world!!"):
        conn.receive_data(b"%x\r\n%b\r\n" % (len(piece), piece) if chunked else piece)
    assert conn.next_body() == b"hellobigworld!!"
    if chunked:
        conn.receive_data(b"0\r\n\r\n")
        assert conn.next_body() == b""
    assert body_done(conn) is True
    assert conn.buffered == 0


def test_get_body_is_complete_at_once(parser: str) -> None:
    conn = make_conn(parser)
    conn.receive_data(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    assert isinstance(conn.next_request(), RequestHead)
    assert conn.body_complete is True
    assert conn.next_body() == b""


def test_parse_error_is_returned_as_next_request(parser: str) -> None:
    conn = make_conn(parser)
    conn.receive_data(b"NOT HTTP\r\n\r\n")
    error = conn.next_request()
    assert isinstance(error, ParseError)
    assert conn.keep_alive is False
    raw = conn.error_response(error.status)
    assert raw.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"connection: close\r\n" in raw
    assert b"content-length: 0\r\n" in raw
    assert b"server: granian\r\n" in raw
    assert raw.endswith(DATE + b"\r\n")


def test_malformed_body_raises_body_error(parser: str) -> None:
    conn = make_conn(parser)
    conn.receive_data(
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nxx\r\n"
    )
    assert isinstance(conn.next_request(), RequestHead)
    assert conn.next_body() == b"abc"
    with pytest.raises(BodyError):
        conn.next_body()
    assert conn.keep_alive is False


def test_discard_body(parser: str) -> None:
    conn = make_conn(parser)
    conn.receive_data(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 8\r\n\r\nabc")
    conn.next_request()
    assert conn.discard_body() == 3
    assert conn.body_complete is False
    conn.receive_data(b"defgh")
    assert conn.discard_body() == 5
    assert conn.body_complete is True


@pytest.mark.parametrize(
    ("declared", "taken", "keep_alive"),
    [
        (DISCARD_LIMIT + 10, 0, False),  # more than the limit left: the response says close
        (DISCARD_LIMIT + 10, 10, True),  # read down to the limit: the rest is dropped
        (DISCARD_LIMIT, 0, True),
    ],
)
def test_a_whole_response_says_close_when_the_unread_body_is_past_the_discard_limit(
    parser: str, declared: int, taken: int, keep_alive: bool
) -> None:
    conn = make_conn(parser)
    conn.receive_data(
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n" % declared + b"x" * taken
    )
    conn.next_request()
    if taken:
        assert conn.next_body() == b"x" * taken
    head, _ = conn.send_response(200, [], b"ok")
    assert (b"connection: close\r\n" not in head) is keep_alive
    assert conn.keep_alive is keep_alive


def test_a_streamed_response_leaves_the_unread_body_to_the_app(parser: str) -> None:
    # The app may read on while it streams (an echo): no verdict at head time.
    conn = make_conn(parser)
    conn.receive_data(
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n" % (4 * DISCARD_LIMIT)
    )
    conn.next_request()
    conn.start_response(200, [])
    assert b"connection: close" not in conn.write(b"chunk")
    assert conn.keep_alive is True


def test_continue_is_offered_once(parser: str) -> None:
    conn = make_conn(parser)
    conn.receive_data(
        b"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"
    )
    conn.next_request()
    assert conn.awaiting_continue is True
    assert conn.take_continue() == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert conn.take_continue() == b""
    assert conn.awaiting_continue is False


def test_no_continue_once_the_body_arrived_or_the_response_went(parser: str) -> None:
    conn = make_conn(parser)
    conn.receive_data(
        b"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc"
    )
    conn.next_request()
    assert conn.take_continue() == b""
    conn2 = make_conn(parser)
    conn2.receive_data(
        b"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"
    )
    conn2.next_request()
    conn2.send_response(413, [], b"")
    assert conn2.take_continue() == b""
    assert conn2.awaiting_continue is True  # the body never came: the connection cannot be reused


def test_response_before_a_held_back_body_says_it_closes(parser: str) -> None:
    # The client waits for 100 Continue that never comes: the connection is not reusable,
    # and the response says so (RFC 9110 10.1.1).
    conn = make_conn(parser)
    conn.receive_data(
        b"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"
    )
    conn.next_request()
    head, _ = conn.send_response(413, [], b"")
    assert b"connection: close\r\n" in head
    assert not conn.keep_alive
    # Once asked for (100 Continue sent), the body comes: the connection stays reusable.
    conn2 = make_conn(parser)
    conn2.receive_data(
        b"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"
    )
    conn2.next_request()
    assert conn2.take_continue() == b"HTTP/1.1 100 Continue\r\n\r\n"
    head2, _ = conn2.send_response(200, [], b"")
    assert b"connection:" not in head2
    assert conn2.keep_alive


SUSPECT_FRAMING = [
    # HTTP/1.0 with Transfer-Encoding: RFC 9112 6.1.
    b"POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"3\r\nabc\r\n0\r\n\r\n",
    # Transfer-Encoding beside Content-Length: RFC 9112 6.3 (llhttp answers 400 instead).
    b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"3\r\nabc\r\n0\r\n\r\n",
]


@pytest.mark.parametrize("raw", SUSPECT_FRAMING, ids=["http10-te", "cl-and-te"])
def test_suspect_framing_is_answered_then_closed(parser: str, raw: bytes) -> None:
    conn = make_conn(parser)
    conn.receive_data(raw + b"GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n")
    head = conn.next_request()
    if isinstance(head, ParseError):  # llhttp refuses CL + TE outright
        assert (parser, head.status) == ("httptools", 400)
        return
    assert isinstance(head, RequestHead)
    assert head.keep_alive is False
    assert conn.next_body() == b"abc"
    response, _ = conn.send_response(200, [], b"ok")
    assert b"connection: close\r\n" in response
    assert not conn.keep_alive
    assert conn.next_request() is None  # the bytes after it are never served


def test_pipelined_cycles(parser: str) -> None:
    conn = make_conn(parser)
    conn.receive_data(b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n")
    first = conn.next_request()
    assert isinstance(first, RequestHead)
    assert conn.has_queued_events
    conn.send_response(200, [], b"1")
    conn.start_next_cycle()
    second = conn.next_request()
    assert isinstance(second, RequestHead)
    assert second.target == b"/2"
    assert not conn.has_queued_events


def test_cycle_cannot_restart_early(parser: str) -> None:
    conn = make_conn(parser)
    conn.receive_data(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    conn.next_request()
    with pytest.raises(RuntimeError):
        conn.start_next_cycle()


# == connection: responses ====================================================================


def request(conn: H1Connection, raw: bytes) -> RequestHead:
    conn.receive_data(raw)
    head = conn.next_request()
    assert isinstance(head, RequestHead)
    return head


GET11 = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"
GET10 = b"GET / HTTP/1.0\r\n\r\n"


def test_whole_response_bytes(parser: str) -> None:
    conn = make_conn(parser)
    request(conn, GET11)
    head, body = conn.send_response(200, [(b"content-type", b"text/plain")], b"hello")
    assert head == (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n"
        b"server: granian\r\n" + DATE + b"\r\n"
    )
    assert body == b"hello"
    assert conn.response_complete
    assert conn.keep_alive


def test_app_server_and_date_are_kept(parser: str) -> None:
    conn = make_conn(parser)
    request(conn, GET11)
    head, _ = conn.send_response(200, [(b"Server", b"mine"), (b"date", b"yesterday")], b"")
    assert head.count(b"erver:") == 1
    assert head.count(b"date:") == 1
    assert b"Server: mine\r\n" in head


def test_head_request_keeps_length_without_body(parser: str) -> None:
    conn = make_conn(parser)
    request(conn, b"HEAD / HTTP/1.1\r\nHost: h\r\n\r\n")
    head, body = conn.send_response(200, [], b"0123456789")
    assert b"content-length: 10\r\n" in head
    assert body == b""
    response, received, _ = client_read(head, b"HEAD")
    assert response.status_code == 200
    assert received == b""
    assert conn.keep_alive


@pytest.mark.parametrize("status", [100, 101, 103, 199, 99, 1000, True])
def test_an_interim_or_invalid_status_cannot_answer_a_request(parser: str, status: int) -> None:
    # A 1xx is interim: sent as the response, the client would go on waiting for the real
    # one and take the next response for it. Refused before anything is committed.
    conn = make_conn(parser)
    request(conn, GET11)
    with pytest.raises(ResponseError, match="for a response"):
        conn.send_response(status, [], b"abc")
    with pytest.raises(ResponseError, match="for a response"):
        conn.start_response(status, [])
    head, body = conn.send_response(500, [], b"")
    assert head.startswith(b"HTTP/1.1 500 Internal Server Error\r\n")


@pytest.mark.parametrize("status", [204, 304])
def test_bodiless_statuses(parser: str, status: int) -> None:
    conn = make_conn(parser)
    request(conn, GET11)
    head, body = conn.send_response(status, [(b"content-length", b"3")], b"abc")
    assert body == b""
    assert (b"content-length: 3" in head) is (status == 304)
    assert b"transfer-encoding" not in head


def test_http10_keep_alive_response(parser: str) -> None:
    conn = make_conn(parser)
    request(conn, b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    head, _ = conn.send_response(200, [], b"x")
    assert b"connection: keep-alive\r\n" in head
    assert conn.keep_alive
    conn = make_conn(parser)
    request(conn, GET10)
    head, _ = conn.send_response(200, [], b"x")
    assert b"connection: close\r\n" in head
    assert not conn.keep_alive


def test_request_connection_close(parser: str) -> None:
    conn = make_conn(parser)
    request(conn, b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    head, _ = conn.send_response(200, [], b"")
    assert b"connection: close\r\n" in head
    assert not conn.keep_alive


def test_keep_alive_disabled_by_config(parser: str) -> None:
    conn = make_conn(parser, keep_alive=False)
    request(conn, GET11)
    head, _ = conn.send_response(200, [], b"")
    assert b"connection: close\r\n" in head
    assert not conn.keep_alive


def test_app_connection_close(parser: str) -> None:
    conn = make_conn(parser)
    request(conn, GET11)
    head, _ = conn.send_response(200, [(b"Connection", b"Close")], b"")
    assert head.count(b"onnection:") == 1
    assert not conn.keep_alive


def test_app_keep_alive_on_a_closing_response(parser: str) -> None:
    # One Connection header, ours: the app's keep-alive would contradict it.
    conn = make_conn(parser)
    request(conn, b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    headers = [(b"x-a", b"1"), (b"Connection", b"keep-alive"), (b"x-b", b"2")]
    head, _ = conn.send_response(200, headers, b"")
    assert head.startswith(b"HTTP/1.1 200 OK\r\nx-a: 1\r\nx-b: 2\r\n")
    assert b"connection: close\r\n" in head
    assert head.count(b"onnection:") == 1
    assert not conn.keep_alive
    conn = make_conn(parser)
    request(conn, GET11)  # kept alive: the app's header stays as it was
    head, _ = conn.send_response(200, headers, b"")
    assert b"x-a: 1\r\nConnection: keep-alive\r\nx-b: 2\r\n" in head
    assert head.count(b"onnection:") == 1


def test_graceful_close_after_response(parser: str) -> None:
    conn = make_conn(parser)
    request(conn, GET11)
    conn.close_after_response()
    head, _ = conn.send_response(200, [], b"")
    assert b"connection: close\r\n" in head


def test_streamed_chunked(parser: str) -> None:
    conn = make_conn(parser)
    request(conn, GET11)
    conn.start_response(200, [(b"content-type", b"text/plain")])
    assert conn.response_started
    assert not conn.head_sent
    first = conn.write(b"hello")
    assert first.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"transfer-encoding: chunked\r\n" in first
    assert first.endswith(b"\r\n\r\n5\r\nhello\r\n")
    assert conn.write(b"") == b""
    assert conn.write(b" world!") == b"7\r\n world!\r\n"
    last = conn.end_response(b"bye")
    assert last == b"3\r\nbye\r\n0\r\n\r\n"
    assert conn.response_complete
    assert conn.keep_alive
    response, body, rest = client_read(first + b"7\r\n world!\r\n" + last)
    assert body == b"hello world!bye"
    assert isinstance(rest[-1], h11.EndOfMessage)


def test_streamed_ended_before_any_write_gets_a_length(parser: str) -> None:
    conn = make_conn(parser)
    request(conn, GET11)
    conn.start_response(201, [])
    raw = conn.end_response(b"all of it")
    assert raw.startswith(b"HTTP/1.1 201 Created\r\ncontent-length: 9\r\n")
    assert raw.endswith(b"\r\n\r\nall of it")
    assert b"transfer-encoding" not in raw


def test_streamed_http10_is_close_delimited(parser: str) -> None:
    conn = make_conn(parser)
    request(conn, b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    conn.start_response(200, [])
    first = conn.write(b"abc")
    assert b"transfer-encoding" not in first
    assert b"content-length" not in first
    assert b"connection: close\r\n" in first
    assert first.endswith(b"\r\n\r\nabc")
    assert conn.end_response(b"def") == b"def"
    assert not conn.keep_alive


def test_streamed_head_request_sends_no_body(parser: str) -> None:
    conn = make_conn(parser)
    request(conn, b"HEAD / HTTP/1.1\r\nHost: h\r\n\r\n")
    conn.start_response(200, [])
    first = conn.write(b"abc")
    assert first.endswith(b"\r\n\r\n")
    assert conn.end_response(b"def") == b""
    assert conn.keep_alive


def test_app_content_length_exact(parser: str) -> None:
    conn = make_conn(parser)
    request(conn, GET11)
    conn.start_response(200, [(b"Content-Length", b"6")])
    first = conn.write(b"abc")
    assert b"transfer-encoding" not in first
    assert first.endswith(b"\r\n\r\nabc")
    assert conn.end_response(b"def") == b"def"
    assert conn.keep_alive


def test_app_content_length_too_many_bytes_truncates_and_closes(parser: str) -> None:
    conn = make_conn(parser)
    request(conn, GET11)
    conn.start_response(200, [(b"content-length", b"4")])
    first = conn.write(b"abc")
    assert conn.write(b"defgh") == b"d"
    assert conn.write(b"more") == b""
    conn.end_response()
    assert not conn.keep_alive
    _, body, _ = client_read(first + b"d")
    assert body == b"abcd"
    whole = make_conn(parser)
    request(whole, GET11)
    _head, body = whole.send_response(200, [(b"content-length", b"2")], b"abcdef")
    assert body == b"ab"
    assert not whole.keep_alive


def test_app_content_length_too_few_bytes_closes(parser: str) -> None:
    conn = make_conn(parser)
    request(conn, GET11)
    _head, body = conn.send_response(200, [(b"content-length", b"10")], b"abc")
    assert body == b"abc"
    assert not conn.keep_alive


def test_app_transfer_encoding_is_replaced(parser: str) -> None:
    conn = make_conn(parser)
    request(conn, GET11)
    head, _ = conn.send_response(200, [(b"Transfer-Encoding", b"chunked")], b"abc")
    assert b"Transfer-Encoding" not in head
    assert b"content-length: 3\r\n" in head


def test_tab_inside_a_header_value_is_kept(parser: str) -> None:
    conn = make_conn(parser)
    request(conn, GET11)
    head, _ = conn.send_response(200, [(b"x-tab", b"a\tb")], b"")
    assert b"x-tab: a\tb\r\n" in head


@pytest.mark.parametrize(
    "headers",
    [
        [(b"x-evil", b"a\r\nset-cookie: x=1")],
        [(b"x-evil", b"a\nb")],
        [(b"x-evil", b"a\rb")],
        [(b"x-evil", b"a\x00b")],
        [(b"x-ctl", b"a\x01b")],  # any control but HTAB (RFC 9110 §5.5)
        [(b"x-del", b"a\x7f")],
        [(b"bad name", b"v")],
        [(b"bad:name", b"v")],
        [(b"", b"v")],
        [(b"x-str", "text")],
        [(b"content-length", b"12a")],
        [(b"content-length", b"-1")],
    ],
)
def test_invalid_headers_raise_before_anything_is_committed(
    parser: str, headers: list[tuple[bytes, bytes]]
) -> None:
    conn = make_conn(parser)
    request(conn, GET11)
    with pytest.raises(ResponseError):
        conn.send_response(200, headers, b"")
    assert not conn.response_started
    head, _ = conn.send_response(500, [], b"")  # the server can still answer
    assert head.startswith(b"HTTP/1.1 500 Internal Server Error\r\n")


def test_failed_head_leaves_no_trace(parser: str) -> None:
    conn = make_conn(parser)
    request(conn, GET11)
    with pytest.raises(ResponseError):
        conn.send_response(
            200, [(b"connection", b"close"), (b"server", b"x"), (b"bad name", b"")], b""
        )
    head, _ = conn.send_response(500, [], b"")
    assert b"server: granian\r\n" in head
    assert b"connection" not in head
    assert conn.keep_alive


@pytest.mark.parametrize("status", [99, 1000, -1, "200", 200.0, True])
def test_invalid_status(parser: str, status: object) -> None:
    conn = make_conn(parser)
    request(conn, GET11)
    with pytest.raises(ResponseError):
        conn.send_response(status, [], b"")  # type: ignore[arg-type]


def test_unknown_status_has_empty_reason(parser: str) -> None:
    conn = make_conn(parser)
    request(conn, GET11)
    head, _ = conn.send_response(599, [], b"")
    assert head.startswith(b"HTTP/1.1 599 \r\n")
    response, _, _ = client_read(head)
    assert response.status_code == 599


def test_response_twice_is_an_error(parser: str) -> None:
    conn = make_conn(parser)
    request(conn, GET11)
    conn.start_response(200, [])
    with pytest.raises(ResponseError):
        conn.send_response(200, [], b"")


def test_file_response(parser: str) -> None:
    conn = make_conn(parser)
    request(conn, GET11)
    head, to_send = conn.start_file(200, [(b"content-type", b"text/plain")], 1234)
    assert b"content-length: 1234\r\n" in head
    assert to_send == 1234
    conn.end_file(1234)
    assert conn.response_complete
    assert conn.keep_alive


def test_file_response_with_short_app_length(parser: str) -> None:
    conn = make_conn(parser)
    request(conn, GET11)
    head, to_send = conn.start_file(200, [(b"content-length", b"100")], 1234)
    assert b"content-length: 100\r\n" in head
    assert to_send == 100
    conn.end_file(100)
    assert not conn.keep_alive


def test_file_response_to_head(parser: str) -> None:
    conn = make_conn(parser)
    request(conn, b"HEAD / HTTP/1.1\r\nHost: h\r\n\r\n")
    head, to_send = conn.start_file(200, [], 1234)
    assert b"content-length: 1234\r\n" in head
    assert to_send == 0
    conn.end_file(0)
    assert conn.keep_alive


def test_date_comes_from_the_source_each_time(parser: str) -> None:
    source = Source()
    conn = H1Connection(parser_for(parser), header_source=source)
    request(conn, GET11 + GET11)
    head, _ = conn.send_response(200, [], b"")
    assert DATE in head
    conn.start_next_cycle()
    source.date_header = b"date: later\r\n"
    conn.next_request()
    head, _ = conn.send_response(200, [], b"")
    assert b"date: later\r\n" in head
