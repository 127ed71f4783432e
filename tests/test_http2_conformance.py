"""HTTP/2 conformance over real sockets (h2spec-style checks that involve ``H2Protocol``).

The frame-level rules are tested without sockets in ``test_http2_connection.py``; these
check what the protocol layer does with them: the GOAWAY it writes, closing the
connection after a connection error (RFC 9113 §5.4.1), and a client's GOAWAY.
"""

from __future__ import annotations

import asyncio
import struct

import h2.errors
import pytest
from granian_core.exchange import HTTPExchange
from hyperframe.frame import DataFrame, GoAwayFrame, HeadersFrame

from .test_http2_server import RawFrames, RawH2, Routes, request_headers, serve_h2

NO_ERROR = h2.errors.ErrorCodes.NO_ERROR
PROTOCOL_ERROR = h2.errors.ErrorCodes.PROTOCOL_ERROR
FRAME_SIZE_ERROR = h2.errors.ErrorCodes.FRAME_SIZE_ERROR
FLOW_CONTROL_ERROR = h2.errors.ErrorCodes.FLOW_CONTROL_ERROR


def _frame(kind: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    length = len(payload)
    return struct.pack(">BHBBL", length >> 16, length & 0xFFFF, kind, flags, stream_id) + payload


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (_frame(0x6, 0, 0, b"short"), FRAME_SIZE_ERROR),
        (_frame(0x4, 0, 0, struct.pack(">HL", 0x5, 1 << 24)), PROTOCOL_ERROR),
        (_frame(0x8, 0, 0, (2**31 - 1).to_bytes(4, "big")), FLOW_CONTROL_ERROR),
        (_frame(0x2, 0, 9, struct.pack(">LB", 9, 1)), PROTOCOL_ERROR),
        (_frame(0x1, 0x4 | 0x8 | 0x20, 1, b"\x00\x00\x00\x00"), FRAME_SIZE_ERROR),
    ],
    ids=["ping-length", "max-frame-size", "window-overflow", "self-priority-idle", "short-prio"],
)
def test_a_connection_error_writes_goaway_then_closes(frame: bytes, code: int) -> None:
    with serve_h2() as srv:
        client = RawH2(srv.port)
        try:
            client.sock.sendall(frame)
            frames = RawFrames(client.sock)
            goaway = frames.wait_for(lambda f: isinstance(f, GoAwayFrame))
            frames.wait_closed()
        finally:
            client.close()
    assert goaway.error_code == code
    assert goaway.last_stream_id == 0


def test_a_graceful_client_goaway_lets_its_open_stream_finish() -> None:
    """RFC 9113 §6.8: the client's GOAWAY(NO_ERROR) stops new streams, not open ones."""
    routes = Routes()

    @routes.route("/upload")
    async def upload(exchange: HTTPExchange) -> None:
        body = bytearray()
        while not exchange.body_complete:
            body += await exchange.receive()
        await asyncio.sleep(0)
        exchange.send_response(200, [], b"got " + bytes(body))

    with serve_h2(routes) as srv:
        client = RawH2(srv.port)
        try:
            stream_id = client.request(request_headers("POST", "/upload"), end=False)
            client.read(0.2)  # the server's preamble
            # h2's client sends nothing after its own GOAWAY: raw frames from here on.
            client.sock.sendall(
                _frame(0x7, 0, 0, struct.pack(">LL", 0, NO_ERROR))
                + DataFrame(stream_id, b"the rest", flags=["END_STREAM"]).serialize()
            )
            frames = RawFrames(client.sock)
            frames.wait_for(lambda f: isinstance(f, DataFrame) and "END_STREAM" in f.flags)
            frames.wait_closed()
        finally:
            client.close()
    (head,) = [f for f in frames.frames if isinstance(f, HeadersFrame)]
    assert head.stream_id == stream_id
    body = b"".join(f.data for f in frames.frames if isinstance(f, DataFrame))
    assert body == b"got the rest"
    (goaway,) = [f for f in frames.frames if isinstance(f, GoAwayFrame)]
    assert (goaway.error_code, goaway.last_stream_id) == (NO_ERROR, stream_id)


def test_a_client_goaway_with_an_error_closes_at_once() -> None:
    routes = Routes()

    @routes.route("/upload")
    async def upload(exchange: HTTPExchange) -> None:
        while not exchange.body_complete:
            await exchange.receive()

    with serve_h2(routes) as srv:
        client = RawH2(srv.port)
        try:
            client.request(request_headers("POST", "/upload"), end=False)
            client.read(0.2)
            client.sock.sendall(_frame(0x7, 0, 0, struct.pack(">LL", 0, PROTOCOL_ERROR)))
            frames = RawFrames(client.sock)
            frames.wait_closed()
        finally:
            client.close()
    assert not [f for f in frames.frames if isinstance(f, (HeadersFrame, DataFrame))]
