"""HTTP/2 abuse bounds: each ends only the offending connection (or stream); others go on.

Rapid reset, CONTINUATION flood, HPACK bomb (a 431 on its stream only), PING and
SETTINGS floods, and streams beyond MAX_CONCURRENT_STREAMS — each sent by a raw client
over a socket.
"""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import h2.errors
import h2.events
import hpack
import httpx
import pytest
from granian_core.exchange import HTTPExchange
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    RstStreamFrame,
    SettingsFrame,
)

from .test_http2_server import (
    H2Server,
    RawFrames,
    RawH2,
    Routes,
    goaway,
    request_headers,
    serve_h2,
)

CALM = h2.errors.ErrorCodes.ENHANCE_YOUR_CALM


def _still_serving(url: str) -> None:
    with httpx.Client(http1=False, http2=True) as client:
        response = client.post(f"{url}/echo", content=b"unaffected")
    assert response.status_code == 200
    assert response.content == b"unaffected"


def _raw_goaway(sock: socket.socket) -> GoAwayFrame:
    """The server's GOAWAY, read as raw frames (the test bypassed the client's h2 state)."""
    frame = RawFrames(sock).wait_for(lambda f: isinstance(f, GoAwayFrame))
    assert isinstance(frame, GoAwayFrame)
    return frame


def _flood_until_goaway(sock: socket.socket, frame: bytes, count: int) -> GoAwayFrame:
    """Send ``frame`` ``count`` times (until the server closes), then read its GOAWAY."""
    try:
        for _ in range(count // 100):
            sock.sendall(frame * 100)
    except OSError:
        pass  # the server closed the connection under us: that is the point
    return _raw_goaway(sock)


def _handshake(port: int, rcvbuf: int | None = None) -> tuple[socket.socket, RawH2]:
    """A connected socket with the client preface sent, plus an h2 decoder for replies."""
    client = RawH2(port)
    if rcvbuf is not None:
        client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    return client.sock, client


def test_rapid_reset_gets_enhance_your_calm() -> None:
    routes = Routes()

    @routes.route("/slow")
    async def slow(exchange: HTTPExchange) -> None:
        await asyncio.sleep(0.05)
        exchange.send_response(200, [], b"late")

    with serve_h2(routes) as srv:
        client = RawH2(srv.port)
        sent = 0
        try:
            for _ in range(5000):
                stream_id = client.request(request_headers("GET", "/slow"))
                client.conn.reset_stream(stream_id, h2.errors.ErrorCodes.CANCEL)
                client.flush()
                sent += 1
        except OSError:
            pass  # the server closed the connection under us: that is the point
        event = goaway(client)
        client.close()
        _still_serving(srv.url)
    assert event.error_code == CALM
    assert sent < 5000
    # The budget is 2 × max_concurrent_streams resets per 10 s: far fewer were dispatched.
    assert len(routes.seen) <= 2 * 200 + 200


def test_occasional_resets_are_tolerated() -> None:
    with serve_h2() as srv:
        client = RawH2(srv.port)
        for _ in range(50):
            stream_id = client.request(request_headers("POST", "/echo"), b"x", end=False)
            client.conn.reset_stream(stream_id, h2.errors.ErrorCodes.CANCEL)
            client.flush()
        stream_id = client.request(request_headers("POST", "/echo"), b"fine")
        _, body = client.response(stream_id)
        client.close()
    assert body == b"fine"
    assert not any(isinstance(e, h2.events.ConnectionTerminated) for e in client.events)


def test_continuation_flood_is_bounded_by_h2() -> None:
    with serve_h2() as srv:
        sock, client = _handshake(srv.port)
        block = client.conn.encoder.encode(request_headers("GET", "/"))
        sock.sendall(HeadersFrame(1, block).serialize())  # no END_HEADERS
        frame = _flood_until_goaway(sock, ContinuationFrame(1, b"").serialize(), 10_000)
        client.close()
        _still_serving(srv.url)
    assert frame.error_code == h2.errors.ErrorCodes.PROTOCOL_ERROR


def test_a_large_header_block_in_full_continuation_frames_is_served() -> None:
    # The CONTINUATION bound leaves room for every header list size we advertise: 1.5 MiB
    # in 16 KiB frames (97 of them) is a request, not a flood.
    with serve_h2() as srv:
        sock, client = _handshake(srv.port)
        headers = [*request_headers("POST", "/echo"), (b"x-big", b"v" * (1536 * 1024))]
        block = client.conn.encoder.encode(headers, huffman=False)  # hpack's Huffman is slow
        size = 16384
        fragments = [block[i : i + size] for i in range(0, len(block), size)]
        frames = [HeadersFrame(1, fragments[0]).serialize()]
        frames += [ContinuationFrame(1, part).serialize() for part in fragments[1:-1]]
        frames.append(ContinuationFrame(1, fragments[-1], flags=["END_HEADERS"]).serialize())
        frames.append(DataFrame(1, b"body", flags=["END_STREAM"]).serialize())
        sock.sendall(b"".join(frames))
        frame = RawFrames(sock).wait_for(lambda f: isinstance(f, (DataFrame, GoAwayFrame)))
        client.close()
    assert len(fragments) > 64
    assert isinstance(frame, DataFrame)
    assert frame.data == b"body"


def test_empty_data_frame_flood_gets_enhance_your_calm() -> None:
    with serve_h2() as srv:
        sock, client = _handshake(srv.port)
        client.request(request_headers("POST", "/echo"), end=False)
        frame = _flood_until_goaway(sock, DataFrame(1, b"").serialize(), 2_000)
        client.close()
        _still_serving(srv.url)
    assert frame.error_code == CALM


def test_a_few_empty_data_frames_are_fine() -> None:
    with serve_h2() as srv:
        client = RawH2(srv.port)
        stream_id = client.request(request_headers("POST", "/echo"), end=False)
        for part in (b"", b"a", b"", b"", b"b"):
            client.conn.send_data(stream_id, part)
        client.conn.send_data(stream_id, b"", end_stream=True)
        client.flush()
        _, body = client.response(stream_id)
        client.close()
    assert body == b"ab"


@pytest.mark.parametrize("max_headers", [None, 8192])
def test_hpack_bomb_is_a_431_on_its_stream_only(max_headers: int | None) -> None:
    # The decoder stops growing the list at the limit but decodes the whole block, so
    # its table stays in step with the client's: only the bomb's stream is answered
    # 431 (as Granian does); the connection and the request before it carry on.
    options: dict[str, Any] = {} if max_headers is None else {"http2_max_headers_size": max_headers}
    with serve_h2(**options) as srv:
        sock, client = _handshake(srv.port)
        encoder = client.conn.encoder
        # One 4 KB header goes into the dynamic table; the next block references it
        # ~4800 times in one 16 KB frame: ~20 MB of headers once decoded, which is
        # over even the default 16 MiB MAX_HEADER_LIST_SIZE.
        first = encoder.encode([*request_headers("GET", "/"), (b"x-big", b"a" * 4000)])
        sock.sendall(HeadersFrame(1, first, flags=["END_HEADERS", "END_STREAM"]).serialize())
        bomb = encoder.encode(request_headers("GET", "/")) + bytes([0x80 | 62]) * 16_000
        sock.sendall(
            HeadersFrame(3, bomb[:16_384], flags=["END_HEADERS", "END_STREAM"]).serialize()
        )
        after = encoder.encode(request_headers("GET", "/"))
        sock.sendall(HeadersFrame(5, after, flags=["END_HEADERS", "END_STREAM"]).serialize())
        frames = RawFrames(sock)
        frames.wait_for(lambda f: isinstance(f, HeadersFrame) and f.stream_id == 5)
        _still_serving(srv.url)
    decoder = hpack.Decoder()
    statuses = {
        frame.stream_id: dict(decoder.decode(frame.data))[":status"]
        for frame in frames.frames
        if isinstance(frame, HeadersFrame)
    }
    assert statuses == {1: "200", 3: "431", 5: "200"}
    assert not any(isinstance(frame, GoAwayFrame) for frame in frames.frames)


@pytest.mark.parametrize(
    "frame",
    [PingFrame(0, b"12345678"), SettingsFrame(0, settings={0x4: 65535})],
    ids=["ping", "settings"],
)
def test_control_frame_flood_without_reading_closes_the_connection(frame: object) -> None:
    payload = frame.serialize() * 1000  # type: ignore[attr-defined]
    with serve_h2() as srv:
        sock, client = _handshake(srv.port, rcvbuf=4096)
        sock.settimeout(1.0)
        sent = 0
        closed = False
        deadline = time.monotonic() + 30
        # The client never reads: the server's ACKs pile up until it gives up on us.
        while time.monotonic() < deadline:
            try:
                sock.sendall(payload)
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            except TimeoutError:
                # The server stopped reading us (its writes are over high-water):
                # the flood is stalled. Look whether the connection got closed.
                client.read(0.5)
                if client.closed or any(
                    isinstance(e, h2.events.ConnectionTerminated) for e in client.events
                ):
                    closed = True
                    break
                continue
            sent += 1000
        client.close()
        _still_serving(srv.url)
        connections = _wait_no_connections(srv)
    assert closed
    assert sent < 5_000_000
    assert connections == 0


def _wait_no_connections(srv: H2Server) -> int:
    """Connections left once the server has seen every client go (bounded wait)."""
    deadline = time.monotonic() + 5
    while (count := srv.call(lambda: len(srv.state.connections))) and time.monotonic() < deadline:
        time.sleep(0.02)
    return int(count)


def test_streams_beyond_max_concurrent_streams_are_refused() -> None:
    routes = Routes()

    @routes.route("/hold")
    async def hold(exchange: HTTPExchange) -> None:
        await asyncio.sleep(30)

    with serve_h2(routes, http2_max_concurrent_streams=10) as srv:
        client = RawH2(srv.port)
        client.wait_for(lambda e: isinstance(e, h2.events.RemoteSettingsChanged))
        for _ in range(10):
            last = client.request(request_headers("GET", "/hold"))
        # The client library refuses to open an 11th stream: send its HEADERS by hand,
        # then a PING, and read the answers as raw frames (the client's h2 state is bypassed).
        block = client.conn.encoder.encode(request_headers("GET", "/hold"))
        frame = HeadersFrame(last + 2, block, flags=["END_HEADERS", "END_STREAM"])
        ping = PingFrame(0, opaque_data=b"alive?\x00\x00")
        client.sock.sendall(frame.serialize() + ping.serialize())
        frames = RawFrames(client.sock)
        reset = frames.wait_for(lambda f: isinstance(f, RstStreamFrame))
        # A stream error only (RFC 9113 §5.1.2): the connection answers the PING.
        frames.wait_for(lambda f: isinstance(f, PingFrame) and "ACK" in f.flags)
        assert not [f for f in frames.frames if isinstance(f, GoAwayFrame)]
        held = srv.call(lambda: sum(len(c._streams) for c in srv.state.connections))
        dispatched = len(routes.seen)
        client.close()
        srv.call(srv.state.cancel_handlers)
        _still_serving(srv.url)
    assert reset.stream_id == last + 2
    assert reset.error_code == h2.errors.ErrorCodes.REFUSED_STREAM
    assert held == 10  # the ten streams under the limit are still open
    assert dispatched == 10  # the refused one never reached the application
