"""Sans-IO pieces of the HTTP/2 engine, without sockets: credit, scheduling, guards, headers.

The scheduler and settings tests drive a real h2 client connection against the
server-side connection in memory (bytes handed across by hand).
"""

from __future__ import annotations

from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.settings
import pytest
from granian_core.config import ServerConfig
from granian_core.http2.connection import ServerConnection
from granian_core.http2.flow import AdaptiveWindow, ConnectionCredit, StreamCredit
from granian_core.http2.guards import ControlFrameGuard, ResetRateGuard
from granian_core.http2.headers import (
    MalformedHeaders,
    header_pair,
    parse_request_head,
    response_headers,
    trailer_headers,
)
from granian_core.http2.outbound import SendBuffer, SendScheduler, StreamSender
from granian_core.http2.settings import H2Settings, clamped_options, new_connection

from .test_http2_connection import EventLog, exchange_bytes

SERVER = (b"server", b"granian")
DATE = (b"date", b"Tue, 24 Nov 2026 07:41:00 GMT")


# -- SendBuffer ---------------------------------------------------------------------------
def test_send_buffer_takes_frame_sized_pieces_across_chunks() -> None:
    buffer = SendBuffer()
    for chunk in (b"abc", b"defgh", b"ij"):
        buffer.append(chunk)
    assert buffer.size == 10
    assert buffer.take(2) == b"ab"
    assert buffer.take(4) == b"cdef"
    assert buffer.size == 4
    assert buffer.take(100) == b"ghij"
    assert buffer.size == 0
    assert not buffer


def test_send_buffer_large_chunk_is_sliced_without_losing_bytes() -> None:
    payload = bytes(range(256)) * 100
    buffer = SendBuffer()
    buffer.append(payload)
    pieces = []
    while buffer:
        pieces.append(buffer.take(1000))
    assert b"".join(pieces) == payload
    assert all(len(piece) <= 1000 for piece in pieces)


# -- flow credit ----------------------------------------------------------------------------
def test_connection_credit_released_on_receipt_within_budget() -> None:
    credit = ConnectionCredit(window=1000, budget=1000)
    assert credit.received(100) == 0  # below the batch (a quarter window)
    assert credit.received(200) == 300  # batch reached: everything unreleased goes back
    assert credit.unread == 300  # ... although the application read none of it


def test_connection_credit_held_beyond_budget_until_consumed() -> None:
    credit = ConnectionCredit(window=1000, budget=1000)
    released = sum(credit.received(250) for _ in range(4))  # 1000 unread: at budget
    assert released == 1000
    # The next full window is unread beyond the budget: held back, the peer must stop.
    assert sum(credit.received(250) for _ in range(4)) == 0
    assert credit.unreleased == 1000
    # The application reads: the same amount of credit becomes free again.
    assert credit.consumed(250) == 250
    assert credit.consumed(500) == 500
    assert credit.unreleased == 250


def test_connection_credit_memory_bound() -> None:
    """Unread bytes never exceed budget + window if the peer respects our window."""
    credit = ConnectionCredit(window=1000, budget=2000)
    outstanding = 0  # bytes the peer may still send
    window = 1000
    for _ in range(50):
        size = window - outstanding
        if size <= 0:
            break
        outstanding += size
        outstanding -= credit.received(size)
    assert credit.unread <= 2000 + 1000


def test_stream_credit_batches() -> None:
    credit = StreamCredit()
    assert credit.consumed(100, batch=250) == 0
    assert credit.consumed(100, batch=250) == 0
    assert credit.consumed(100, batch=250) == 300
    assert credit.pending == 0


def test_adaptive_window_grows_when_a_round_trip_fills_the_window() -> None:
    adaptive = AdaptiveWindow(window=1000, limit=8000)
    assert adaptive.data_received(100) is True  # start a probe
    assert adaptive.data_received(600) is False  # probe in flight: only counting
    assert adaptive.probe_acked() == 2000  # 700 >= 2/3 of 1000: double
    assert adaptive.data_received(500) is True
    assert adaptive.probe_acked() is None  # 500 < 2/3 of 2000: window is not the limit
    assert adaptive.window == 2000


def test_adaptive_window_is_capped() -> None:
    adaptive = AdaptiveWindow(window=6000, limit=8000)
    adaptive.data_received(6000)
    assert adaptive.probe_acked() == 8000
    assert adaptive.data_received(8000) is False  # at the limit: no more probes


# -- guards -----------------------------------------------------------------------------------
def test_reset_guard_trips_over_budget_within_window() -> None:
    guard = ResetRateGuard(max_concurrent_streams=10, window=10.0)
    assert guard.limit == 100  # floor for small stream limits
    assert not any(guard.reset(now=1.0 + i * 0.01) for i in range(100))
    assert guard.reset(now=2.5) is True


def test_reset_guard_window_restarts() -> None:
    guard = ResetRateGuard(max_concurrent_streams=200, window=10.0)
    assert guard.limit == 400
    for i in range(400):
        assert not guard.reset(now=i * 0.001)
    assert not guard.reset(now=11.0)  # a new window: the count starts over


def test_control_frame_guard_counts_until_drained() -> None:
    guard = ControlFrameGuard(limit=3)
    assert not any(guard.control_frame() for _ in range(3))
    guard.drained()
    assert not any(guard.control_frame() for _ in range(3))
    assert guard.control_frame() is True


# -- headers ----------------------------------------------------------------------------------
def test_request_head_from_pseudo_headers() -> None:
    head = parse_request_head(
        [
            (b":method", b"POST"),
            (b":scheme", b"https"),
            (b":authority", b"example.com:8443"),
            (b":path", b"/a%20b?x=1&y=2"),
            (b"content-type", b"text/plain"),
            (b"cookie", b"a=1; b=2"),
        ]
    )
    assert head.method == "POST"
    assert head.raw_path == b"/a%20b"
    assert head.query_string == b"x=1&y=2"
    assert head.authority == "example.com:8443"
    assert head.headers == [(b"content-type", b"text/plain"), (b"cookie", b"a=1; b=2")]


def test_request_head_keeps_an_explicit_host() -> None:
    # A host that disagrees with :authority is malformed (RFC 9113 §8.3.1): same value here.
    head = parse_request_head(
        [(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/"), (b"host", b"b")]
    )
    assert head.headers == [(b"host", b"b")]
    assert head.query_string == b""


def test_authority_and_host_may_differ_in_case_only() -> None:
    # Host names are case-insensitive: the same authority spelled twice is not a conflict.
    pseudo = [(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/")]
    head = parse_request_head([*pseudo, (b":authority", b"Example.COM"), (b"host", b"example.com")])
    assert head.authority == "Example.COM"
    assert head.headers == [(b"host", b"example.com")]
    with pytest.raises(MalformedHeaders):
        parse_request_head([*pseudo, (b":authority", b"a.example"), (b"host", b"b.example")])


def test_content_length_of_any_size_is_a_stream_error_not_a_crash() -> None:
    # int() refuses strings past 4,300 digits with ValueError: that must not escape.
    pseudo = [(b":method", b"POST"), (b":scheme", b"http"), (b":path", b"/"), (b"host", b"a")]
    for value in (b"1" * 4301, b"1" * 20, b"x1"):
        with pytest.raises(MalformedHeaders, match="content-length"):
            parse_request_head([*pseudo, (b"content-length", value)])
    zeros = b"0" * 5000 + b"12"  # leading zeros are still a small number
    assert parse_request_head([*pseudo, (b"content-length", zeros)]).content_length == 12
    largest = parse_request_head([*pseudo, (b"content-length", b"9" * 19)])
    assert largest.content_length == 10**19 - 1


def test_response_headers_status_defaults_and_forbidden_fields() -> None:
    block, declared = response_headers(
        200,
        [
            (b"Content-Type", b"text/plain"),
            (b"Connection", b"keep-alive"),
            (b"transfer-encoding", b"chunked"),
            (b"te", b"gzip"),
        ],
        SERVER,
        DATE,
        content_length=5,
    )
    assert block == [
        (b":status", b"200"),
        (b"content-type", b"text/plain"),
        (b"content-length", b"5"),
        SERVER,
        DATE,
    ]
    assert declared is None


def test_response_headers_respects_application_values() -> None:
    block, declared = response_headers(
        404,
        [(b"server", b"mine"), (b"date", b"x"), (b"content-length", b"12")],
        SERVER,
        DATE,
        content_length=3,
    )
    assert block == [
        (b":status", b"404"),
        (b"server", b"mine"),
        (b"date", b"x"),
        (b"content-length", b"12"),
    ]
    assert declared == 12


def test_response_headers_repeated_heads_are_independent_blocks() -> None:
    # The second call reuses the checked head: same block, a list of its own, and the
    # per-response parts (content-length, date) are still per response.
    headers = [(b"Content-Type", b"text/plain"), (b"x-id", b"1")]
    first, _ = response_headers(200, headers, SERVER, DATE, content_length=5)
    first.append((b"x-mutated", b"yes"))
    later_date = (b"date", b"Thu, 26 Nov 2026 00:00:00 GMT")
    second, declared = response_headers(200, list(headers), SERVER, later_date, 7)
    assert second == [
        (b":status", b"200"),
        (b"content-type", b"text/plain"),
        (b"x-id", b"1"),
        (b"content-length", b"7"),
        SERVER,
        later_date,
    ]
    assert declared is None
    # Heads that cannot be keys (a bytearray value, a float status) are checked each time.
    block, _ = response_headers(200, [(b"x-raw", bytearray(b"v"))], SERVER, DATE, None)
    assert block[1] == (b"x-raw", b"v")
    assert response_headers(200.0, headers, SERVER, DATE, None)[0][0] == (b":status", b"200")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (b"x-bad", b"a\r\nset-cookie: x"),
        (b"x-nul", b"a\x00"),
        (b"x-ctl", b"a\x01b"),  # any control but HTAB: clients fail the stream on it
        (b"x-del", b"a\x7f"),
        (b"bad name", b"v"),
        (b":x", b"v"),
    ],
)
def test_response_headers_refuse_injection(name: bytes, value: bytes) -> None:
    for _ in range(2):  # a refused head is never remembered as checked
        with pytest.raises(ValueError, match="response header"):
            response_headers(200, [(name, value)], SERVER, DATE, None)


def test_response_headers_trim_values_and_keep_tabs_inside() -> None:
    # HTTP/2 forbids whitespace around a value (RFC 9113 §8.2.1); HTTP/1 ignores it.
    block, declared = response_headers(
        200, [(b"x-a", b" v\tw "), (b"content-length", b" 5")], SERVER, DATE, None
    )
    assert block[1:3] == [(b"x-a", b"v\tw"), (b"content-length", b"5")]
    assert declared == 5


@pytest.mark.parametrize("value", [b"-1", b"1_0", b"+5", b"5.0", b"abc", b""])
def test_response_content_length_must_be_digits(value: bytes) -> None:
    # int() takes "-1" and "1_0": sent as is, they made clients fail the stream.
    with pytest.raises(ValueError, match="Invalid content-length"):
        response_headers(200, [(b"content-length", value)], SERVER, DATE, None)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (b":method", b"G ET"),
        (b":method", b"GET\x01"),
        (b":method", b'GET"'),
        (b":method", b"GE(T)"),
        (b":method", b""),
        (b":path", b"echo"),
        (b":path", b"http://x/echo"),
        (b":path", b"/ec ho"),
        (b":path", b"/e\x01cho"),
        (b":path", b"/e\x7fcho"),
        (b":path", b""),
        (b":authority", b""),
        (b":authority", b"a b"),
    ],
)
def test_request_pseudo_headers_are_validated(name: bytes, value: bytes) -> None:
    # RFC 9110 §9.1 (a token method), RFC 9113 §8.3.1 (origin-form path, authority).
    fields = {b":method": b"GET", b":scheme": b"http", b":authority": b"a", b":path": b"/"}
    fields[name] = value
    for _ in range(2):  # a refused field is never remembered as checked
        with pytest.raises(MalformedHeaders):
            parse_request_head(list(fields.items()))


def test_asterisk_path_only_for_options() -> None:
    pseudo = [(b":scheme", b"http"), (b":authority", b"a"), (b":path", b"*")]
    assert parse_request_head([(b":method", b"OPTIONS"), *pseudo]).raw_path == b"*"
    with pytest.raises(MalformedHeaders):
        parse_request_head([(b":method", b"GET"), *pseudo])
    custom = parse_request_head([(b":method", b"PURGE"), *pseudo[:2], (b":path", b"/x")])
    assert custom.method == "PURGE"


def test_trailer_headers_are_checked_and_lower_cased() -> None:
    assert trailer_headers([(b"X-Checksum", b"abc"), (b"connection", b"close")]) == [
        (b"x-checksum", b"abc")
    ]
    with pytest.raises(ValueError, match="response header"):
        trailer_headers([(b"x", b"\n")])


def test_header_pair_parses_the_http1_form() -> None:
    assert header_pair(b"server: granian\r\n") == (b"server", b"granian")
    assert header_pair(b"date: Tue, 24 Nov 2026 07:41:00 GMT\r\n") == (
        b"date",
        b"Tue, 24 Nov 2026 07:41:00 GMT",
    )


# -- settings + in-memory h2 pair ------------------------------------------------------------
def _client(initial_window: int | None = None) -> h2.connection.H2Connection:
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    client.initiate_connection()
    if initial_window is not None:
        client.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: initial_window})
    return client


def _exchange_bytes(
    client: h2.connection.H2Connection, server: ServerConnection
) -> tuple[list[h2.events.Event], list[tuple[object, ...]]]:
    """Move bytes both ways until quiet; return (client events, server events)."""
    log = server.handler
    assert isinstance(log, EventLog)
    return exchange_bytes(client, server), log.take()


def test_new_connection_advertises_the_configured_limits() -> None:
    settings = H2Settings(
        max_concurrent_streams=33,
        stream_window=300_000,
        connection_window=5_000_000,
        max_frame_size=32_768,
        max_header_list_size=8192,
    )
    server = new_connection(settings, EventLog())
    client = _client()
    client_events, _ = _exchange_bytes(client, server)
    changed = next(e for e in client_events if isinstance(e, h2.events.RemoteSettingsChanged))
    codes = h2.settings.SettingCodes
    values = {code: setting.new_value for code, setting in changed.changed_settings.items()}
    assert values[codes.MAX_CONCURRENT_STREAMS] == 33
    assert values[codes.INITIAL_WINDOW_SIZE] == 300_000
    assert values[codes.MAX_FRAME_SIZE] == 32_768
    assert values[codes.MAX_HEADER_LIST_SIZE] == 8192
    assert client.outbound_flow_control_window == 5_000_000  # the connection window was raised
    # Applied from the first frame, not only after the client's ACK.
    assert server.max_inbound_frame_size == 32_768
    assert server.decoder.max_header_list_size == 8192


def test_settings_clamp_values_http2_forbids() -> None:
    class Config:
        http2_keep_alive_interval = 1500
        http2_max_concurrent_streams = 10
        http2_initial_stream_window_size = 2**40
        http2_initial_connection_window_size = 1024
        http2_max_frame_size = 1024
        http2_max_headers_size = 100
        http2_max_send_buffer_size = 2048
        http2_adaptive_window = True
        http2_keep_alive_timeout = 3

    settings = H2Settings.from_config(Config())  # type: ignore[arg-type]
    assert settings.max_frame_size == 16_384  # RFC 9113 floor
    assert settings.stream_window == 2**31 - 1
    assert settings.connection_window == 65_535  # a connection window cannot shrink
    assert settings.keep_alive_interval == 1.5
    assert settings.keep_alive_timeout == 3.0


def test_clamped_options_are_named_once_each() -> None:
    config = ServerConfig(http2_max_frame_size=1024, http2_initial_stream_window_size=3_000_000_000)
    assert clamped_options(config) == [
        "--http2-initial-stream-window-size 3000000000 is outside what HTTP/2 can use "
        "(0..2147483647): using 2147483647",
        "--http2-max-frame-size 1024 is outside what HTTP/2 can use (16384..16777215): using 16384",
    ]
    assert clamped_options(ServerConfig()) == []


def test_the_server_warns_of_clamped_options(granian_proc: Any) -> None:
    server = granian_proc(
        "--interface", "asgi", "--http2-max-frame-size", "1024", "tests.apps_cli.hello:app"
    )
    _, log = server.stop()
    assert (
        "[WARNING] --http2-max-frame-size 1024 is outside what HTTP/2 can use "
        "(16384..16777215): using 16384"
    ) in log


class Recorder:
    """A SendListener that records what it hears."""

    def __init__(self) -> None:
        self.space = 0
        self.done = 0

    def on_send_space(self) -> None:
        self.space += 1

    def on_send_done(self) -> None:
        self.done += 1


def _open_streams(
    count: int, initial_window: int
) -> tuple[h2.connection.H2Connection, ServerConnection, list[int]]:
    server = new_connection(H2Settings(), EventLog())
    client = _client(initial_window)
    ids = []
    for _ in range(count):
        stream_id = client.get_next_available_stream_id()
        client.send_headers(
            stream_id,
            [(":method", "GET"), (":path", "/"), (":scheme", "http"), (":authority", "x")],
            end_stream=True,
        )
        ids.append(stream_id)
    _exchange_bytes(client, server)
    for stream_id in ids:
        server.send_headers(stream_id, [(b":status", b"200")])
    return client, server, ids


def _received(events: list[h2.events.Event]) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    for event in events:
        if isinstance(event, h2.events.DataReceived):
            out[event.stream_id] = out.get(event.stream_id, b"") + event.data
    return out


def test_scheduler_respects_the_stream_window_and_resumes_on_window_update() -> None:
    client, server, (stream_id,) = _open_streams(1, initial_window=1000)
    scheduler = SendScheduler(server, buffer_limit=10_000)
    listener = Recorder()
    sender = StreamSender(stream_id, listener)
    scheduler.send_now(sender, b"x" * 2500, end=True)
    scheduler.pump(budget=1_000_000)
    client_events, _ = _exchange_bytes(client, server)
    assert len(_received(client_events)[stream_id]) == 1000  # one window, then parked
    assert listener.done == 0
    # The client hands credit back: the scheduler resumes that stream.
    client.increment_flow_control_window(5000, stream_id=stream_id)
    _, server_events = _exchange_bytes(client, server)
    assert ("window", stream_id) in server_events
    scheduler.unblock(stream_id)
    scheduler.pump(budget=1_000_000)
    client_events, _ = _exchange_bytes(client, server)
    assert len(_received(client_events)[stream_id]) == 1500
    assert any(isinstance(e, h2.events.StreamEnded) for e in client_events)
    assert listener.done == 1


def test_scheduler_round_robin_shares_the_connection() -> None:
    client, server, ids = _open_streams(2, initial_window=1_000_000)
    scheduler = SendScheduler(server, buffer_limit=1_000_000)
    senders = [StreamSender(stream_id, Recorder()) for stream_id in ids]
    for sender in senders:
        scheduler.send_now(sender, b"y" * 100_000, end=False, direct=False)
    # The connection window (65535 for this client) is the bottleneck: both streams
    # must get a share of it, frame by frame, instead of the first taking it all.
    scheduler.pump(budget=1_000_000)
    client_events, _ = _exchange_bytes(client, server)
    received = _received(client_events)
    assert set(received) == set(ids)
    sizes = sorted(len(data) for data in received.values())
    assert sum(sizes) == 65_535
    assert sizes[1] - sizes[0] <= 16_384


def test_scheduler_signals_space_when_buffer_drops_below_limit() -> None:
    client, server, (stream_id,) = _open_streams(1, initial_window=1_000_000)
    scheduler = SendScheduler(server, buffer_limit=20_000)
    listener = Recorder()
    sender = StreamSender(stream_id, listener)
    scheduler.send_now(sender, b"z" * 30_000, end=False, direct=False)
    assert sender.buffer.size >= scheduler.buffer_limit
    scheduler.pump(budget=1_000_000)
    assert sender.buffer.size == 0
    assert listener.space == 1
    assert listener.done == 0


def test_scheduler_ends_with_trailers_or_reset() -> None:
    client, server, ids = _open_streams(2, initial_window=1_000_000)
    scheduler = SendScheduler(server, buffer_limit=1_000_000)
    with_trailers = StreamSender(ids[0], Recorder())
    with_trailers.trailers = [(b"x-sum", b"1")]
    scheduler.send_now(with_trailers, b"body", end=True)
    reset = StreamSender(ids[1], Recorder())
    reset.reset_code = 2
    scheduler.send_now(reset, b"part", end=True)
    scheduler.pump(budget=1_000_000)
    client_events, _ = _exchange_bytes(client, server)
    trailers = [e for e in client_events if isinstance(e, h2.events.TrailersReceived)]
    assert [(e.stream_id, e.headers) for e in trailers] == [(ids[0], [(b"x-sum", b"1")])]
    resets = [e for e in client_events if isinstance(e, h2.events.StreamReset)]
    assert [(e.stream_id, e.error_code) for e in resets] == [(ids[1], 2)]
    assert _received(client_events) == {ids[0]: b"body", ids[1]: b"part"}
