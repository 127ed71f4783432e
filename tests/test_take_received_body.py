"""``HTTPExchange.take_received_body``: a whole body taken without waiting, or ``None``.

An interface answers in ``start_http`` when the body could be taken, and leaves the
request to ``handle_http`` (which reads it with ``receive()``) when it could not;
the ``x-via`` header tells which happened. Real servers, raw sockets (HTTP/1 with
each parser, cleartext HTTP/2 through the h2 library) so that what arrives in one
read is up to the test.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Iterator
from typing import Any

import h2.config
import h2.connection
import h2.events
import pytest
from granian_core.exchange import ClientDisconnected, HTTPExchange
from granian_core.interface import Interface

from tests.helpers import connect

WAIT = 10.0


class Taker(Interface):
    def start_http(self, exchange: HTTPExchange) -> asyncio.Future[None] | None:
        body = exchange.take_received_body()
        if body is None:
            assert not exchange.body_complete
            return None
        # Taken is taken: the exchange now reports an empty rest, as receive() would.
        again = exchange.take_received_body()
        headers = [(b"x-via", b"start_http"), (b"x-again", repr(again).encode())]
        exchange.send_response(200, headers, body)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    def handle_http(self, exchange: HTTPExchange) -> Awaitable[None]:
        return self._read_then_answer(exchange)

    async def _read_then_answer(self, exchange: HTTPExchange) -> None:
        try:
            body = await exchange.read_body()
        except ClientDisconnected:
            return
        exchange.send_response(200, [(b"x-via", b"task")], body)


@pytest.fixture(scope="module", params=["h11", "httptools"])
def srv(request: pytest.FixtureRequest) -> Iterator[Any]:
    from tests.conftest import run_server

    with run_server(None, interface=Taker, http1_parser=request.param) as handle:
        yield handle


def _responses(sock: socket.socket, count: int) -> list[tuple[int, dict[bytes, bytes], bytes]]:
    """Read ``count`` HTTP/1.1 responses (status, headers, body), each with a content-length."""
    stream = sock.makefile("rb")
    answers = []
    for _ in range(count):
        status_line = stream.readline()
        status = int(status_line.split()[1])
        headers: dict[bytes, bytes] = {}
        while (line := stream.readline()) != b"\r\n":
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        body = stream.read(int(headers.get(b"content-length", b"0")))
        answers.append((status, headers, body))
    stream.close()
    return answers


def _ask(port: int, request: bytes) -> tuple[int, dict[bytes, bytes], bytes]:
    """Send ``request`` in one write; its one response."""
    with connect(port) as sock:
        sock.sendall(request)
        [answer] = _responses(sock, 1)
    return answer


def _post(body: bytes, extra: bytes = b"") -> bytes:
    return b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n%s\r\n%s" % (
        len(body),
        extra,
        body,
    )


def test_a_body_read_with_its_head_is_taken(srv: Any) -> None:
    status, headers, body = _ask(srv.port, _post(b"hello"))
    assert (status, body, headers[b"x-via"]) == (200, b"hello", b"start_http")
    assert headers[b"x-again"] == b"b''"


def test_no_body_is_an_empty_one(srv: Any) -> None:
    status, headers, body = _ask(srv.port, b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
    assert (status, body, headers[b"x-via"]) == (200, b"", b"start_http")


def test_a_whole_chunked_body_is_taken_joined(srv: Any) -> None:
    status, headers, body = _ask(
        srv.port,
        b"POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
    )
    assert (status, body, headers[b"x-via"]) == (200, b"abcde", b"start_http")


def test_pipelined_bodies_are_each_taken_whole(srv: Any) -> None:
    with connect(srv.port) as sock:
        sock.sendall(_post(b"one") + _post(b"two") + _post(b"three"))
        answers = _responses(sock, 3)
    assert [(body, headers[b"x-via"]) for _, headers, body in answers] == [
        (b"one", b"start_http"),
        (b"two", b"start_http"),
        (b"three", b"start_http"),
    ]


def test_a_body_still_arriving_is_left_to_receive(srv: Any) -> None:
    with connect(srv.port) as sock:
        sock.sendall(_post(b"hello world")[:-5])
        time.sleep(0.1)
        sock.sendall(b"world")
        [(status, headers, body)] = _responses(sock, 1)
    assert (status, body, headers[b"x-via"]) == (200, b"hello world", b"task")


def test_a_client_waiting_for_100_continue_gets_it_from_receive(srv: Any) -> None:
    with connect(srv.port) as sock:
        sock.sendall(_post(b"", b"Expect: 100-continue\r\n").replace(b"th: 0", b"th: 4"))
        assert sock.recv(1024).startswith(b"HTTP/1.1 100 Continue\r\n")
        sock.sendall(b"body")
        [(status, headers, body)] = _responses(sock, 1)
    assert (status, body, headers[b"x-via"]) == (200, b"body", b"task")


def test_a_malformed_body_is_left_to_receive_which_answers_400(srv: Any) -> None:
    status, _, _ = _ask(
        srv.port,
        b"POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n",
    )
    assert status == 400


def test_a_body_past_the_read_buffer_is_taken_in_full_or_received(srv: Any) -> None:
    data = bytes(range(256)) * 4096  # 1 MiB: reading pauses at the buffer size
    status, headers, body = _ask(srv.port, _post(data))
    assert (status, body, headers[b"x-via"]) == (200, data, b"task")


# -- HTTP/2 -------------------------------------------------------------------------------


def _h2_post(port: int, body: bytes, pause: float | None) -> tuple[dict[bytes, bytes], bytes]:
    """POST ``body`` on a fresh h2c connection; with ``pause``, the DATA frame comes later."""
    conn = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=True, header_encoding=None)
    )
    conn.initiate_connection()
    head = [
        (b":method", b"POST"),
        (b":scheme", b"http"),
        (b":path", b"/x"),
        (b":authority", b"127.0.0.1"),
        (b"content-length", str(len(body)).encode()),
    ]
    conn.send_headers(1, head)
    headers: dict[bytes, bytes] = {}
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as sock:
        if pause is not None:
            sock.sendall(conn.data_to_send())
            time.sleep(pause)
        conn.send_data(1, body, end_stream=True)
        sock.sendall(conn.data_to_send())
        ended = False
        while not ended:
            data = sock.recv(65536)
            assert data, "the server closed the connection"
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived):
                    headers = dict(event.headers)
                elif isinstance(event, h2.events.DataReceived):
                    answer += event.data
                    conn.acknowledge_received_data(event.flow_controlled_length, 1)
                elif isinstance(event, h2.events.StreamEnded):
                    ended = True
            sock.sendall(conn.data_to_send())
    return headers, answer


def test_h2_a_body_that_came_with_its_headers_is_taken(srv: Any) -> None:
    headers, body = _h2_post(srv.port, b"over h2", None)
    assert (headers[b":status"], body, headers[b"x-via"]) == (b"200", b"over h2", b"start_http")


def test_h2_a_body_still_arriving_is_left_to_receive(srv: Any) -> None:
    headers, body = _h2_post(srv.port, b"later", 0.1)
    assert (headers[b":status"], body, headers[b"x-via"]) == (b"200", b"later", b"task")
