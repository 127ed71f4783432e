"""The RSGI HTTP protocol object and stream transport, and the per-request runner.

``run_http`` is the whole per-request path: one coroutine that calls the app,
then completes what the app's synchronous ``response_*`` call left pending (a
file to send, a stream to end). Whole-body responses are written by the
``response_*`` call itself, in one ``send_response``.
"""

from __future__ import annotations

import asyncio
import logging
import operator
import os
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterable
from typing import TYPE_CHECKING, Any

from granian_core.exchange import ClientDisconnected

from .errors import RSGIProtocolClosed, RSGIProtocolError
from .names import encode_headers
from .scope import Scope

if TYPE_CHECKING:
    from granian_core.exchange import HTTPExchange

__all__ = ["HTTPProtocol", "HTTPStreamTransport", "RSGIApp", "run_http"]

logger = logging.getLogger("_granian")

#: ``async def app(scope, protocol)``; anything returning an awaitable works.
RSGIApp = Callable[[Scope, "HTTPProtocol"], Awaitable[Any]]
ResponseHeaders = Iterable[tuple[str, str]]
#: What response_bytes and send_bytes accept (any other buffer works too).
BytesLike = bytes | bytearray | memoryview

# How the body was consumed (it may be consumed once, one way).
_BODY_UNREAD = 0
_BODY_WHOLE = 1
_BODY_ITER = 2

# Which response the app chose (only the first call counts).
_NO_RESPONSE = 0
_SENT = 1  # written by the response_* call itself
_FILE = 2  # sent by run_http once the app returns
_STREAM = 3  # ended by run_http once the app returns

_NOT_FOUND_BODY = b"Not found"


class HTTPStreamTransport:
    """Body writer of ``response_stream``. Sends wait while the client reads slowly.

    As in Granian, ``send_*`` queues its chunk when called and returns an awaitable:
    an app that never awaits it still gets its body out (with no backpressure).
    """

    __slots__ = ("_exchange",)

    def __init__(self, exchange: HTTPExchange) -> None:
        self._exchange = exchange

    def send_bytes(self, data: BytesLike) -> Awaitable[None]:
        if type(data) is not bytes:
            data = bytes(memoryview(data))
        return self._send(data)

    def send_str(self, data: str) -> Awaitable[None]:
        return self._send(str.encode(data, "utf-8"))

    def _send(self, data: bytes) -> Awaitable[None]:
        """Queue ``data`` now; what the caller awaits: nothing, a drain, or the error."""
        exchange = self._exchange
        if exchange.disconnected or exchange.response_complete:
            return _CLOSED  # raised when awaited, as Granian's awaitable does
        if data:  # an empty write could read as the end of a chunked body
            exchange.write(data)
        if exchange.write_paused:
            return self._drain()
        return _DONE

    async def _drain(self) -> None:
        try:
            await self._exchange.drain()
        except ClientDisconnected:
            raise RSGIProtocolClosed() from None


class _Done:
    """An awaitable that is already complete (a send that needs no wait)."""

    __slots__ = ()

    def __await__(self) -> Generator[None, None, None]:
        yield from ()  # a generator that yields nothing: awaiting completes at once


class _Closed:
    """An awaitable that raises ``RSGIProtocolClosed`` (a send after the transport closed)."""

    __slots__ = ()

    def __await__(self) -> Generator[None, None, None]:
        yield from ()  # a generator: the error comes when awaited, not when the send is called
        raise RSGIProtocolClosed()


_DONE = _Done()
_CLOSED = _Closed()


class _PendingFile:
    """A ``response_file``/``response_file_range`` waiting for the app to return."""

    __slots__ = ("end", "headers", "path", "start", "status")

    def __init__(
        self,
        status: int,
        headers: list[tuple[bytes, bytes]],
        path: str,
        start: int,
        end: int | None,
    ) -> None:
        self.status = status
        self.headers = headers
        self.path = path
        self.start = start
        self.end = end


class HTTPProtocol:
    """``protocol`` of an RSGI HTTP call: read the body, send exactly one response."""

    __slots__ = ("_body", "_exchange", "_file", "_response")

    _file: _PendingFile

    def __init__(self, exchange: HTTPExchange) -> None:
        self._exchange = exchange
        self._body = _BODY_UNREAD
        self._response = _NO_RESPONSE
        # _file is only set by response_file*; it is read only after that.

    # -- request body -------------------------------------------------------------------
    def __call__(self) -> Coroutine[Any, Any, bytes]:
        """The whole request body. A second read raises at call time, not at await."""
        self._consume_body(_BODY_WHOLE)
        return self._read_body()

    def __aiter__(self) -> HTTPProtocol:
        self._consume_body(_BODY_ITER)
        return self

    async def __anext__(self) -> bytes:
        """The next non-empty body chunk, as the transport framed it."""
        exchange = self._exchange
        while not exchange.body_complete:
            try:
                chunk = await exchange.receive()
            except ClientDisconnected:
                break  # as Granian: a broken body just ends the iteration
            if chunk:
                return chunk
        raise StopAsyncIteration

    def _consume_body(self, how: int) -> None:
        if self._body != _BODY_UNREAD:
            raise RSGIProtocolError()
        self._body = how

    async def _read_body(self) -> bytes:
        try:
            return await self._exchange.read_body()
        except ClientDisconnected:
            raise RSGIProtocolClosed() from None

    def client_disconnect(self) -> asyncio.Future[None]:
        """Resolves when the client disconnects (or, at the latest, once the response is over).

        A future, as Granian's awaitable is one: ``asyncio.wait`` takes it, where it
        refuses a bare coroutine.
        """
        return asyncio.ensure_future(self._exchange.wait_disconnect())

    # -- responses (synchronous; only the first one counts) --------------------------------
    # RSGI 1.6 4.3: a later whole-body or file response is ignored; a later
    # response_stream raises RSGIProtocolError, since the app would write to it.
    # The whole-body methods are the hottest code of the adapter: validation is
    # inlined (a plain int status in range skips the call to _checked_status).
    def response_empty(self, status: int = 200, headers: ResponseHeaders = ()) -> None:
        if self._response == _NO_RESPONSE:
            if type(status) is not int or not 200 <= status <= 999:
                status = _checked_status(status)
            raw_headers = encode_headers(headers)
            self._response = _SENT
            self._exchange.send_response(status, raw_headers, b"")

    def response_str(
        self, status: int = 200, headers: ResponseHeaders = (), body: str = ""
    ) -> None:
        if self._response == _NO_RESPONSE:
            if type(status) is not int or not 200 <= status <= 999:
                status = _checked_status(status)
            raw_body = str.encode(body, "utf-8")
            raw_headers = encode_headers(headers)
            self._response = _SENT
            self._exchange.send_response(status, raw_headers, raw_body)

    def response_bytes(
        self, status: int = 200, headers: ResponseHeaders = (), body: BytesLike = b""
    ) -> None:
        if self._response == _NO_RESPONSE:
            if type(status) is not int or not 200 <= status <= 999:
                status = _checked_status(status)
            if type(body) is not bytes:
                body = bytes(memoryview(body))  # bytes-like accepted; str/int rejected
            raw_headers = encode_headers(headers)
            self._response = _SENT
            self._exchange.send_response(status, raw_headers, body)

    def response_file(self, status: int, headers: ResponseHeaders, file: str) -> None:
        """Send the file at ``file`` once the app returns (404 if it cannot be opened)."""
        if self._response == _NO_RESPONSE:
            self._defer_file(status, headers, file, 0, None)

    def response_file_range(
        self, status: int, headers: ResponseHeaders, file: str, start: int, end: int
    ) -> None:
        """Send bytes ``[start, end)`` of ``file``; ``end`` past the end of file is clamped."""
        start, end = operator.index(start), operator.index(end)
        if start < 0 or end < 0:
            raise OverflowError("can't convert negative int to unsigned")
        if start >= end:
            raise ValueError("Invalid range")
        if self._response == _NO_RESPONSE:
            self._defer_file(status, headers, file, start, end)

    def response_stream(
        self, status: int = 200, headers: ResponseHeaders = ()
    ) -> HTTPStreamTransport:
        """Commit status and headers now; the body ends when the app returns."""
        if self._response != _NO_RESPONSE:
            raise RSGIProtocolError()
        status = _checked_status(status)
        raw_headers = encode_headers(headers)
        self._response = _STREAM
        exchange = self._exchange
        exchange.start_response(status, raw_headers)
        # "Status and headers are committed right away" (RSGI 1.6 4.8): a client waiting
        # on an event stream or a long poll sees them before the first chunk.
        exchange.send_head()
        return HTTPStreamTransport(exchange)

    def _defer_file(
        self, status: int, headers: ResponseHeaders, file: str, start: int, end: int | None
    ) -> None:
        status = _checked_status(status)
        path = os.fspath(file)
        self._file = _PendingFile(status, encode_headers(headers), path, start, end)
        self._response = _FILE

    # -- completion, driven by run_http ---------------------------------------------------
    async def _send_file(self) -> None:
        pending = self._file
        exchange = self._exchange
        try:
            # The exchange clamps count at the end of the file, as Granian does.
            count = None if pending.end is None else pending.end - pending.start
            await exchange.send_file(
                pending.status, pending.headers, pending.path, pending.start, count
            )
        except ClientDisconnected:
            return  # nobody to answer; the core drops what is left
        except OSError as exc:
            if exchange.response_started:
                raise
            logger.info("RSGI response_file: cannot open %s (%s)", pending.path, exc.strerror)
            exchange.send_response(404, [], _NOT_FOUND_BODY)

    def _end_stream(self) -> None:
        exchange = self._exchange
        if not (exchange.response_complete or exchange.disconnected):
            exchange.end_response()


async def run_http(app: RSGIApp, exchange: HTTPExchange) -> None:
    """Serve one request: call the app, then finish the response it chose."""
    protocol = HTTPProtocol(exchange)
    try:
        await app(Scope(exchange), protocol)
    except Exception:
        # A file response was already chosen; Granian would have sent it regardless.
        # A started stream is left unfinished on purpose: the core then drops the
        # connection, so the client can tell that the body is truncated.
        if protocol._response == _FILE:
            await protocol._send_file()
        raise
    response = protocol._response
    if response == _STREAM:
        protocol._end_stream()
    elif response == _FILE:
        await protocol._send_file()


def _checked_status(status: int) -> int:
    if type(status) is not int:
        status = operator.index(status)  # IntEnum/HTTPStatus → plain int; floats → TypeError
    if 200 <= status <= 999:  # a 1xx is interim, never the response (RSGI says 100..999)
        return status
    raise ValueError(f"Invalid HTTP status code: {status}")
