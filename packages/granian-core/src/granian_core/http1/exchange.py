"""``H1Exchange``: one HTTP/1.1 request and its response, as adapters see it.

A thin, slotted object: request facts are plain attributes; body reads and
response writes go through the protocol's :class:`~.connection.H1Connection`.
An exchange is "over" once its response is complete; reads after that raise
:class:`ClientDisconnected` (the unread body belongs to no one any more).
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING

from granian_core.coalesce import JOIN_LIMIT
from granian_core.exchange import ClientDisconnected, Headers, HTTPExchange, ResponseError

from .connection import BodyError

if TYPE_CHECKING:
    from .events import RequestHead
    from .protocol import H1Protocol

__all__ = ["H1Exchange"]

#: Files up to this size are read on the loop in one ``pread`` and written with their head.
INLINE_FILE_LIMIT = 64 * 1024


class H1Exchange(HTTPExchange):
    __slots__ = (
        "_done_waiter",
        "_over",
        "_proto",
        "authority",
        "body_complete",
        "conn",
        "disconnected",
        "headers",
        "http_version",
        "method",
        "query_string",
        "raw_path",
        "response_complete",
        "response_started",
        "status",
    )

    def __init__(self, proto: H1Protocol, head: RequestHead) -> None:
        self._proto = proto
        self.conn = proto.info
        self.method = head.method
        self.http_version = head.http_version
        self.headers = head.headers
        target = head.target
        if target[:1] == b"/":
            self.raw_path, _, self.query_string = target.partition(b"?")
            self.authority = None
        else:
            self._split_other_target(target)
        self.status = 0
        self.response_started = False
        self.response_complete = False
        self.body_complete = proto._conn.body_complete
        self.disconnected = False
        self._over = False
        self._done_waiter: asyncio.Future[None] | None = None

    def _split_other_target(self, target: bytes) -> None:
        """Absolute-form (``http://host/path``), asterisk-form or authority-form targets."""
        self.authority = None
        scheme_end = target.find(b"://")
        if scheme_end > 0:
            rest = target[scheme_end + 3 :]
            slash = rest.find(b"/")
            query = rest.find(b"?")
            end = min(i for i in (slash, query, len(rest)) if i >= 0)
            # Without any userinfo (RFC 9112 §3.2.2): "user:secret@" is no part of a host.
            self.authority = rest[:end].rpartition(b"@")[2].decode("latin-1")
            target = rest[end:]
            if not target.startswith(b"/"):
                target = b"/" + target
        self.raw_path, _, self.query_string = target.partition(b"?")

    # -- connection events ----------------------------------------------------------------
    def _finish(self) -> None:
        """The response is complete: the exchange is over."""
        self._over = True
        self._wake_done_waiter()

    def _on_connection_lost(self) -> None:
        if not self._over:
            self.disconnected = True
        self._wake_done_waiter()

    def _wake_done_waiter(self) -> None:
        waiter = self._done_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- request body -----------------------------------------------------------------------
    async def receive(self) -> bytes:
        if self.body_complete:
            return b""
        if self._over or self.disconnected:
            raise ClientDisconnected("the request is over or the client disconnected")
        proto = self._proto
        conn = proto._conn
        if conn.awaiting_continue:
            proto._flush_deferred()
            proto._write(conn.take_continue())
        while True:
            try:
                data = conn.next_body()
            except BodyError:
                proto._on_body_error(self)
                raise ClientDisconnected("malformed request body") from None
            if data is not None:
                break
            if proto._lost:
                self.disconnected = True
                raise ClientDisconnected("the client disconnected")
            await proto._wait_body()
            if self._over or self.disconnected:
                raise ClientDisconnected("the request is over or the client disconnected")
        self.body_complete = conn.body_complete
        if proto._read_paused:
            proto._resume_if_drained()
        return data

    def take_received_body(self) -> bytes | None:
        if self.body_complete:
            return b""
        if self._over or self.disconnected:
            return None  # receive() raises
        proto = self._proto
        conn = proto._conn
        data = conn.take_whole_body()
        if data is None:
            return None
        self.body_complete = True
        if proto._read_paused:
            proto._resume_if_drained()
        return data

    async def wait_disconnect(self) -> None:
        if self.disconnected or self._over:
            return
        waiter = self._done_waiter
        if waiter is None:
            waiter = self._done_waiter = self._proto._loop.create_future()
        await asyncio.shield(waiter)

    # -- response ---------------------------------------------------------------------------
    def send_response(self, status: int, headers: Headers, body: bytes = b"") -> None:
        if self.response_started:
            raise ResponseError("the response has already started")
        if self.disconnected:
            self._mark_sent(status)
            return
        proto = self._proto
        head, body = proto._conn.send_response(status, headers, body)
        self.status = status
        self.response_started = self.response_complete = True
        if not body:
            proto._write(head)
        elif len(body) <= JOIN_LIMIT:
            proto._write(head + body)
        else:
            proto._write_parts([head, body])
        proto._response_done()

    def _mark_sent(self, status: int) -> None:
        self.status = status
        self.response_started = True
        self.response_complete = True

    def start_response(self, status: int, headers: Headers) -> None:
        if self.response_started:
            raise ResponseError("the response has already started")
        if not self.disconnected:
            self._proto._conn.start_response(status, headers)
        self.status = status
        self.response_started = True

    def write(self, data: bytes) -> None:
        if not self.response_started or self.response_complete:
            raise ResponseError("write() outside a started, unfinished response")
        if self.disconnected:
            return
        proto = self._proto
        parts = proto._conn.write_parts(data)
        if parts:
            proto._flush_deferred()
            proto._write_parts(parts)

    def send_head(self) -> None:
        if not self.response_started or self.response_complete:
            raise ResponseError("send_head() outside a started, unfinished response")
        if self.disconnected:
            return
        head = self._proto._conn.send_head()
        if head:
            self._proto._write(head)

    @property
    def write_paused(self) -> bool:
        return self._proto._write_paused

    async def drain(self) -> None:
        if self.disconnected:
            raise ClientDisconnected("the client disconnected")
        await self._proto._drain()

    def end_response(self, data: bytes = b"") -> None:
        if not self.response_started or self.response_complete:
            raise ResponseError("end_response() outside a started, unfinished response")
        self.response_complete = True
        if self.disconnected:
            return
        proto = self._proto
        parts = proto._conn.end_response_parts(data)
        if parts:
            proto._write_parts(parts)
        proto._response_done()

    async def send_file(
        self,
        status: int,
        headers: Headers,
        path: str,
        offset: int = 0,
        count: int | None = None,
    ) -> None:
        if self.response_started:
            raise ResponseError("the response has already started")
        with open(path, "rb", buffering=0) as file:  # errors propagate before anything is sent
            available = max(0, os.fstat(file.fileno()).st_size - offset)
            size = available if count is None else min(count, available)
            proto = self._proto
            conn = proto._conn
            if self.disconnected:
                self._mark_sent(status)
                return
            head, to_send = conn.start_file(status, headers, size)
            self.status = status
            self.response_started = True
            proto._flush_deferred()
            if to_send <= INLINE_FILE_LIMIT:
                # A small file: one read on the loop (page-cached, cheaper than a thread
                # hop or sendfile's set-up) and one write with the head.
                data = os.pread(file.fileno(), to_send, offset) if to_send else b""
                proto._write_parts([head, data] if data else [head])
                sent = len(data)
            else:
                proto._write(head)
                try:
                    sent = await proto._send_file_body(file, offset, to_send)
                except ClientDisconnected:
                    self.disconnected = True
                    sent = 0
        conn.end_file(sent)
        self.response_complete = True
        proto._response_done()

    def abort(self) -> None:
        self.disconnected = True
        self._proto._abort()
