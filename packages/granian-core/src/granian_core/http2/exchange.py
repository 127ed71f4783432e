"""``H2Exchange``: one HTTP/2 stream as the adapter-facing :class:`HTTPExchange`.

The exchange keeps the stream's request-body queue and response state; every
frame goes through its :class:`~.protocol.H2Protocol` (the ``StreamOwner``
below), which owns the HTTP/2 connection and the socket.
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from typing import IO, Any, Protocol

from granian_core.exchange import (
    ClientDisconnected,
    ConnectionInfo,
    Headers,
    HTTPExchange,
    ResponseError,
    check_final_status,
)

from .flow import StreamCredit
from .frames import INTERNAL_ERROR
from .headers import RequestHead, trailer_headers
from .outbound import StreamSender

__all__ = ["H2Exchange", "StreamOwner"]

#: Bytes read from a file per write by ``send_file`` (a multiple of the frame size).
FILE_CHUNK = 256 * 1024
#: The interim head answering ``expect: 100-continue`` (HEADERS without END_STREAM).
CONTINUE_HEAD = [(b":status", b"100")]


class StreamOwner(Protocol):
    """The connection-side services an exchange uses (implemented by H2Protocol)."""

    loop: asyncio.AbstractEventLoop

    @property
    def transport_paused(self) -> bool: ...

    @property
    def send_buffer_limit(self) -> int: ...

    def response_head(
        self, status: int, headers: Headers, content_length: int | None
    ) -> tuple[list[tuple[bytes, bytes]], int | None]: ...

    def send_head(
        self, exchange: H2Exchange, block: list[tuple[bytes, bytes]], end: bool
    ) -> None: ...

    def send_body(self, exchange: H2Exchange, data: bytes, end: bool) -> None: ...

    def finish(self, exchange: H2Exchange) -> None: ...

    def reset(self, exchange: H2Exchange, error_code: int) -> None: ...

    def body_consumed(self, exchange: H2Exchange, size: int) -> None: ...

    async def read_file(self, file: IO[bytes], size: int) -> bytes: ...


def _expects_continue(headers: Headers) -> bool:
    return any(name == b"expect" and value.lower() == b"100-continue" for name, value in headers)


def _no_body(method: str, status: int) -> bool:
    return method == "HEAD" or status < 200 or status in (204, 304)


class H2Exchange(HTTPExchange):
    """One request/response on an HTTP/2 stream."""

    __slots__ = (
        "_body_gone",
        "_body_waiter",
        "_chunks",
        "_continue_pending",
        "_declared",
        "_done_waiter",
        "_drain_waiter",
        "_owner",
        "_pending_head",
        "_remote_ended",
        "_sent",
        "_skip_body",
        "authority",
        "body_complete",
        "conn",
        "credit",
        "disconnected",
        "headers",
        "http_version",
        "method",
        "query_string",
        "raw_path",
        "response_complete",
        "response_started",
        "sender",
        "status",
        "stream_id",
        "trailers",
    )

    def __init__(
        self,
        owner: StreamOwner,
        conn: ConnectionInfo,
        stream_id: int,
        head: RequestHead,
        ended: bool,
    ) -> None:
        self._owner = owner
        self.conn = conn
        self.stream_id = stream_id
        self.method = head.method
        self.http_version = "2"
        self.raw_path = head.raw_path
        self.query_string = head.query_string
        self.headers = head.headers
        self.authority = head.authority
        self.status = 0
        self.response_started = False
        self.response_complete = False
        self.body_complete = ended
        self.disconnected = False
        self.trailers: Headers | None = None  # request trailers, once received
        self.sender = StreamSender(stream_id, self)
        self.credit = StreamCredit()
        self._remote_ended = ended
        #: The response ended first: the unread body was dropped (reads raise).
        self._body_gone = False
        self._chunks: deque[tuple[bytes, int]] = deque()
        self._body_waiter: asyncio.Future[None] | None = None
        self._drain_waiter: asyncio.Future[None] | None = None
        self._done_waiter: asyncio.Future[None] | None = None
        self._pending_head: tuple[int, Headers] | None = None
        self._declared: int | None = None  # content-length the application declared
        self._sent = 0
        self._skip_body = False  # HEAD, 1xx, 204, 304: body bytes are dropped
        #: A body is to come: ``expect: 100-continue`` is looked for at the first wait for it.
        self._continue_pending = not ended

    # -- called by the protocol ------------------------------------------------------
    def feed(self, data: bytes, flow_length: int) -> None:
        """A DATA frame's payload arrived (``flow_length`` includes padding)."""
        self._chunks.append((data, flow_length))
        self._wake_body()

    def end_of_body(self) -> None:
        self._remote_ended = True
        if not self._chunks:
            self.body_complete = True
        self._wake_body()

    def take_unread(self) -> int:
        """Drop the unread body (the stream is over); returns its flow-controlled size."""
        size = self.buffered_body
        self._chunks.clear()
        return size

    @property
    def buffered_body(self) -> int:
        """Request-body bytes received and not yet read by the application."""
        return sum(length for _, length in self._chunks)

    @property
    def remote_open(self) -> bool:
        return not self._remote_ended and not self.disconnected

    def body_dropped(self) -> None:
        """The response is complete; the unread body is dropped (refused if still coming).

        A later read raises, as on HTTP/1: returning ``b""`` would pass a cut body
        off as a whole one.
        """
        self._remote_ended = True
        if not self.body_complete:
            self._body_gone = True
        self._wake_body()

    def lost(self) -> None:
        """The client reset the stream or the connection is gone."""
        if self.disconnected:
            return
        self.disconnected = True
        self.sender.release_listener()
        self._wake_body()
        self._wake_drain()
        self._wake_done()

    # -- SendListener ------------------------------------------------------------------
    def on_send_space(self) -> None:
        if not self._owner.transport_paused:
            self._wake_drain()

    def on_send_done(self) -> None:
        self.sender.release_listener()
        self._owner.finish(self)

    def transport_resumed(self) -> None:
        if self.sender.buffer.size < self._owner.send_buffer_limit:
            self._wake_drain()

    # -- request body --------------------------------------------------------------------
    async def receive(self) -> bytes:
        while True:
            if self._chunks:
                data, flow_length = self._chunks.popleft()
                if self._remote_ended and not self._chunks:
                    self.body_complete = True
                self._owner.body_consumed(self, flow_length)
                return data
            if self.body_complete:
                return b""
            if self.disconnected or self._body_gone:
                raise ClientDisconnected()
            if self._continue_pending:
                self._send_continue()
            waiter = self._body_waiter = self._owner.loop.create_future()
            try:
                await waiter
            finally:
                self._body_waiter = None

    def take_received_body(self) -> bytes | None:
        if self.body_complete:
            return b""
        if not self._remote_ended or self.disconnected or self._body_gone:
            return None
        chunks = self._chunks
        data = b"".join([chunk for chunk, _ in chunks])
        size = self.take_unread()
        self.body_complete = True
        self._owner.body_consumed(self, size)
        return data

    async def wait_disconnect(self) -> None:
        if self.disconnected or self.response_complete:
            return
        if self._done_waiter is None:
            self._done_waiter = self._owner.loop.create_future()
        await asyncio.shield(self._done_waiter)

    # -- response ----------------------------------------------------------------------
    def send_response(self, status: int, headers: Headers, body: bytes = b"") -> None:
        if self.response_started:
            raise ResponseError("The response has already started")
        if not (type(status) is int and 200 <= status <= 999):
            check_final_status(status)  # a 1xx cannot end a stream (RFC 9113 8.1)
        skip = self._skip_body = _no_body(self.method, status)
        if not self.disconnected:
            length = None if status in (204, 304) or (skip and not body) else len(body)
            # Built before any state changes: an invalid header leaves nothing committed.
            block, self._declared = self._owner.response_head(status, headers, length)
        self.response_started = True
        self.status = status
        self.response_complete = True
        if not self.disconnected:
            if skip or not body:
                self._owner.send_head(self, block, True)
            else:
                self._owner.send_head(self, block, False)
                self._end_with(self._clip(body))
        self._wake_done()

    def start_response(self, status: int, headers: Headers) -> None:
        self._start(status)
        self._skip_body = _no_body(self.method, status)
        self._pending_head = (status, headers)

    def write(self, data: bytes) -> None:
        if self.disconnected:
            return
        if not self.response_started:
            raise ResponseError("write() before start_response()")
        if self.response_complete or not data:
            return
        if self._pending_head is not None:
            self._commit_head(None, end=False)
        if self._skip_body:
            return
        data = self._clip(data)
        if data:
            self._owner.send_body(self, data, False)

    def send_head(self) -> None:
        if not self.response_started:
            raise ResponseError("send_head() before start_response()")
        if not self.disconnected and self._pending_head is not None:
            self._commit_head(None, end=False)

    @property
    def write_paused(self) -> bool:
        return (
            self.sender.buffer.size >= self._owner.send_buffer_limit or self._owner.transport_paused
        )

    async def drain(self) -> None:
        while True:
            if self.disconnected:
                raise ClientDisconnected()
            if not self.write_paused:
                return
            waiter = self._drain_waiter = self._owner.loop.create_future()
            try:
                await waiter
            finally:
                self._drain_waiter = None

    def end_response(self, data: bytes = b"") -> None:
        if not self.response_started:
            raise ResponseError("end_response() before start_response()")
        if self.response_complete:
            return
        self.response_complete = True
        if self.disconnected:
            self._wake_done()
            return
        if self._pending_head is not None:
            length = len(data) if data or not self._skip_body else None
            if self._commit_head(length, end=not data or self._skip_body):
                self._wake_done()
                return
        if self._skip_body:
            data = b""
        self._end_with(self._clip(data))
        self._wake_done()

    def send_trailers(self, headers: Headers) -> None:
        """End a streamed response with trailing headers (instead of ``end_response``).

        HTTP/2 carries trailers as a final HEADERS frame; the adapter calls this
        after ``start_response`` and its ``write`` calls (ASGI ``http.response.trailers``).
        """
        if not self.response_started:
            raise ResponseError("send_trailers() before start_response()")
        if self.response_complete:
            return
        # Checked before any state changes: invalid trailers leave the response open.
        block = trailer_headers(headers)
        self.response_complete = True
        if self.disconnected:
            self._wake_done()
            return
        if self._pending_head is not None:
            self._commit_head(None, end=False)
        sender = self.sender
        if self._short():
            sender.reset_code = INTERNAL_ERROR
        else:
            sender.trailers = block
        self._owner.send_body(self, b"", True)
        self._wake_done()

    async def send_file(
        self,
        status: int,
        headers: Headers,
        path: str,
        offset: int = 0,
        count: int | None = None,
    ) -> None:
        # Opened first: a missing file raises before anything is committed.
        with open(path, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            available = max(0, size - offset)
            remaining = available if count is None else min(count, available)
            self._start(status)
            skip = self._skip_body = _no_body(self.method, status)
            if self.disconnected:
                self.response_complete = True
                self._wake_done()
                return
            self._pending_head = (status, headers)
            if skip or remaining == 0:
                self._commit_head(remaining, end=True)
                self.response_complete = True
                self._wake_done()
                return
            self._commit_head(remaining, end=False)
            if self._declared is None:
                self._declared = remaining
            if offset:
                file.seek(offset)
            while remaining > 0 and not self.disconnected:
                chunk = await self._owner.read_file(file, min(FILE_CHUNK, remaining))
                if not chunk:
                    break  # the file shrank: end_response resets the stream (short body)
                remaining -= len(chunk)
                self.write(chunk)
                if self.write_paused:
                    try:
                        await self.drain()
                    except ClientDisconnected:
                        return
        self.end_response()

    def abort(self) -> None:
        if self.disconnected:
            return
        self._owner.reset(self, INTERNAL_ERROR)
        self.lost()

    def extensions(self) -> dict[str, Any]:
        """``{"trailers": headers}`` once the request's trailers arrived, else ``{}``."""
        return {} if self.trailers is None else {"trailers": self.trailers}

    # -- helpers -------------------------------------------------------------------------
    def _send_continue(self) -> None:
        """``100 Continue`` the first time the application waits for a body the client may
        hold back for it (RFC 9110 §10.1.1), as HTTP/1 does; not once the response started.

        Looked for only here, off the hot path: most requests never wait for their body.
        """
        self._continue_pending = False
        if not self.response_started and _expects_continue(self.headers):
            self._owner.send_head(self, CONTINUE_HEAD, False)

    def _start(self, status: int) -> None:
        if self.response_started:
            raise ResponseError("The response has already started")
        if not (type(status) is int and 200 <= status <= 999):
            check_final_status(status)  # a 1xx cannot end a stream (RFC 9113 8.1)
        self.response_started = True
        self.status = status

    def _commit_head(self, content_length: int | None, end: bool) -> bool:
        """Send the held-back head; True when it also ended the stream."""
        assert self._pending_head is not None
        status, headers = self._pending_head
        self._pending_head = None
        if status in (204, 304):
            content_length = None
        block, self._declared = self._owner.response_head(status, headers, content_length)
        self._owner.send_head(self, block, end)
        return end

    def _clip(self, data: bytes) -> bytes:
        """Enforce a declared content-length: excess bytes are dropped."""
        declared = self._declared
        if declared is not None:
            room = declared - self._sent
            if len(data) > room:
                data = data[: max(room, 0)]
        self._sent += len(data)
        return data

    def _short(self) -> bool:
        return self._declared is not None and self._sent < self._declared and not self._skip_body

    def _end_with(self, data: bytes) -> None:
        if self._short():
            # The body is shorter than announced: the client must not take it as whole.
            self.sender.reset_code = INTERNAL_ERROR
        self._owner.send_body(self, data, True)

    def _wake_body(self) -> None:
        waiter = self._body_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _wake_drain(self) -> None:
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _wake_done(self) -> None:
        waiter = self._done_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
