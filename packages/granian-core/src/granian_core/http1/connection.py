"""``H1Connection``: the sans-IO HTTP/1.1 state machine of one connection.

Bytes in → parser events → one current request at a time (later pipelined
requests stay queued in the parser's deque). Response calls in → the exact
bytes to write out. No sockets, no timers, no asyncio: the protocol does I/O.

Per cycle: :meth:`next_request` makes a queued head current; its body is read
with :meth:`next_body` (or dropped with :meth:`discard_body`); the response is
produced by :meth:`send_response`, :meth:`start_response` + :meth:`write` +
:meth:`end_response`, or :meth:`start_file` + :meth:`end_file`; then
:meth:`start_next_cycle` if :attr:`keep_alive` still holds.

Response framing: ``content-length`` when the whole body is known (the
whole-body call, or a streamed response ended before any body write); chunked
for other streamed HTTP/1.1 bodies; close-delimited for HTTP/1.0 streams; no
body at all for HEAD, 1xx, 204 and 304 (HEAD keeps the computed length). An
app-supplied ``content-length`` is enforced: excess bytes are cut off and the
connection closes; a short body closes the connection too.
"""

from __future__ import annotations

from typing import Protocol

from granian_core.exchange import Headers, ResponseError

from .events import END_OF_BODY, BodyData, ParseError, RequestHead
from .heads import CHUNKED, CLOSE, CONTINUE, KEEP_ALIVE, status_line
from .parsers import RequestParser
from .prepared import PreparedHead, prepare_head

__all__ = ["DISCARD_LIMIT", "BodyError", "H1Connection", "HeaderSource"]

#: Unread request body the server reads and drops to keep a connection alive; beyond, it closes.
DISCARD_LIMIT = 256 * 1024

# Body framing of the current response.
_NO_BODY = 0
_LENGTH = 1
_CHUNKED = 2
_CLOSE_DELIMITED = 3

_CHUNK_END = b"\r\n"
_LAST_CHUNK = b"0\r\n\r\n"


class HeaderSource(Protocol):
    """Where the ``date`` and ``server`` lines come from (``WorkerState`` in the server)."""

    date_header: bytes
    server_header: bytes


class _FixedHeaders:
    __slots__ = ("date_header", "server_header")

    def __init__(self) -> None:
        self.date_header = b""
        self.server_header = b"server: granian\r\n"


class BodyError(Exception):
    """The request body is malformed (e.g. bad chunk framing); the request is lost."""

    def __init__(self, error: ParseError) -> None:
        super().__init__(error.reason)
        self.error = error


class H1Connection:
    """The HTTP/1.1 state machine of one connection; see the module docstring."""

    __slots__ = (
        "_body_taken",
        "_continue_pending",
        "_events",
        "_head",
        "_head_request",
        "_http11",
        "_keep_alive_enabled",
        "_mode",
        "_parser",
        "_remaining",
        "_source",
        "body_complete",
        "head_sent",
        "keep_alive",
        "request",
        "response_complete",
        "response_started",
        "send_body",
    )

    def __init__(
        self,
        parser: RequestParser,
        *,
        keep_alive: bool = True,
        header_source: HeaderSource | None = None,
    ) -> None:
        self._parser = parser
        self._events = parser.events
        self._keep_alive_enabled = keep_alive
        self._source: HeaderSource = header_source or _FixedHeaders()
        #: The request being served, ``None`` between cycles.
        self.request: RequestHead | None = None
        self.keep_alive = keep_alive
        self.body_complete = False
        self._head_request = False
        self._http11 = True
        self._continue_pending = False
        #: Body bytes of the current request handed out or dropped so far.
        self._body_taken = 0
        self._reset_response()

    def _reset_response(self) -> None:
        #: The app committed status and headers (the head may still be held back).
        self.response_started = False
        #: The head bytes went out (returned to the caller).
        self.head_sent = False
        self.response_complete = False
        #: Whether the response carries body bytes (not HEAD, 1xx, 204, 304).
        self.send_body = False
        self._mode = _NO_BODY
        self._remaining = 0
        #: The app's status and headers, once committed.
        self._head: PreparedHead | None = None

    # == request side =====================================================================
    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the socket; parse errors become queued ``ParseError`` events."""
        self._parser.feed(data)

    @property
    def buffered(self) -> int:
        """Bytes held in parsed-but-unconsumed events (body chunks, pipelined heads)."""
        return self._parser.buffered

    @property
    def has_queued_events(self) -> bool:
        return bool(self._events)

    def take_trailing(self) -> bytes:
        """The raw bytes past a WebSocket upgrade head, where the parser stopped."""
        return self._parser.take_trailing()

    def next_request(self) -> RequestHead | ParseError | None:
        """Make the next queued request current; ``None`` when none is complete yet.

        A ``ParseError`` means the input was bad: answer :meth:`error_response` and close.
        """
        events = self._events
        if not events:
            return None
        event = events.popleft()
        if type(event) is RequestHead:
            self._parser.buffered -= event.size
            self.request = event
            self.keep_alive = event.keep_alive and self._keep_alive_enabled
            self._head_request = event.method == "HEAD"
            self._http11 = event.http_version == "1.1"
            self._continue_pending = event.expect_continue
            self.body_complete = False
            if events and events[0] is END_OF_BODY:
                events.popleft()
                self.body_complete = True
                self._continue_pending = False
            else:
                self._body_taken = 0  # only a request with a body counts them
            return event
        if type(event) is ParseError:
            self.keep_alive = False
            return event
        raise RuntimeError(f"{event!r} queued outside a request")

    def next_body(self) -> bytes | None:
        """The body bytes of the current request queued so far, as one chunk.

        ``b""`` once the body is complete, ``None`` when no data is queued yet.
        Raises :class:`BodyError` if the body turned out malformed. Chunks that
        arrived in several reads are joined: one read by the app instead of several.
        """
        if self.body_complete:
            return b""
        events = self._events
        if not events:
            return None
        event = events.popleft()
        if type(event) is BodyData:
            data = event.data
            if events and type(events[0]) is BodyData:
                data = self._join_queued(data)
            self._parser.buffered -= len(data)
            self._body_taken += len(data)
            self._continue_pending = False  # the client sent the body without waiting
            if events and events[0] is END_OF_BODY:
                events.popleft()
                self.body_complete = True
            return data
        if event is END_OF_BODY:
            self.body_complete = True
            return b""
        self.keep_alive = False
        if type(event) is ParseError:
            raise BodyError(event)
        raise RuntimeError(f"{event!r} queued inside a request body")

    def take_whole_body(self) -> bytes | None:
        """The rest of the body if all of it is queued (then it is taken), else ``None``."""
        if self.body_complete:
            return b""
        for event in self._events:
            if event is END_OF_BODY:
                return self.next_body()
            if type(event) is not BodyData:
                return None  # an error in the body: receive() reports it
        return None

    def _join_queued(self, first: bytes) -> bytes:
        events = self._events
        chunks = [first]
        while events and type(events[0]) is BodyData:
            chunks.append(events.popleft().data)  # type: ignore[union-attr]
        return b"".join(chunks)

    def discard_body(self) -> int:
        """Drop the queued body of the current request; returns the bytes dropped.

        Check :attr:`body_complete` afterwards: the rest may not have arrived.
        Raises :class:`BodyError` if the body is malformed.
        """
        dropped = 0
        while not self.body_complete:
            data = self.next_body()
            if data is None:
                break
            dropped += len(data)
        return dropped

    @property
    def awaiting_continue(self) -> bool:
        """The client may be waiting for ``100 Continue`` before sending the body."""
        return self._continue_pending and not self._events

    def take_continue(self) -> bytes:
        """``100 Continue`` bytes the first time the app reads a body the client holds back."""
        # Not when the response already went, nor when body bytes came anyway.
        if self._continue_pending and not self.head_sent and not self._events:
            self._continue_pending = False
            return CONTINUE
        return b""

    # == response side ======================================================================
    def send_response(self, status: int, headers: Headers, body: bytes) -> tuple[bytes, bytes]:
        """A whole response: returns ``(head, body)`` to write (body may be trimmed or empty)."""
        self._prepare(status, headers)
        return self._whole(body)

    def start_response(self, status: int, headers: Headers) -> None:
        """Validate and hold back a streamed response's head until its first body bytes."""
        self._prepare(status, headers)

    def write(self, data: bytes) -> bytes:
        """Framed bytes of one chunk of a streamed body (the held-back head included)."""
        return b"".join(self.write_parts(data))

    def write_parts(self, data: bytes) -> list[bytes]:
        """:meth:`write` as pieces to send in order, so a large chunk is never copied
        into its framing (the protocol hands them to one ``writelines``)."""
        if not data:
            return []
        parts = [] if self.head_sent else [self._commit(None)]
        if not self.send_body:
            return parts
        mode = self._mode
        if mode == _CHUNKED:
            parts += (b"%x\r\n" % len(data), data, _CHUNK_END)
        elif mode == _LENGTH:
            parts.append(self._clip(data))
        else:
            parts.append(data)
        return parts

    def send_head(self) -> bytes:
        """The held-back head of a streamed response (``b""`` once it was sent)."""
        if not self.response_started:
            raise ResponseError("send_head() before start_response()")
        return b"" if self.head_sent else self._commit(None)

    def end_response(self, data: bytes = b"") -> bytes:
        """The last bytes of a streamed response; the response is complete afterwards."""
        return b"".join(self.end_response_parts(data))

    def end_response_parts(self, data: bytes = b"") -> list[bytes]:
        """:meth:`end_response` as pieces to send in order (see :meth:`write_parts`)."""
        if not self.head_sent:
            # Nothing written yet: the whole body is known, so it gets a content-length.
            head, body = self._whole(data)
            return [head, body] if body else [head]
        parts = self.write_parts(data)
        if self.send_body:
            if self._mode == _CHUNKED:
                parts.append(_LAST_CHUNK)
            elif self._mode == _CLOSE_DELIMITED:
                self.keep_alive = False
        self._complete()
        return parts

    def start_file(self, status: int, headers: Headers, size: int) -> tuple[bytes, int]:
        """Head of a file response of ``size`` bytes; returns it and the bytes to send."""
        self._prepare(status, headers)
        head = self._commit(size)
        if not self.send_body:
            return head, 0
        if self._remaining < size:
            self.keep_alive = False  # the app's content-length cuts the file short
            return head, self._remaining
        return head, size

    def end_file(self, sent: int) -> None:
        """``sent`` raw body bytes of a file response went out; the response is complete."""
        if self.send_body:
            self._remaining -= sent
        self._complete()

    def error_response(self, status: int) -> bytes:
        """An empty response that closes the connection (parse errors, timeouts)."""
        self.keep_alive = False
        self.response_started = self.head_sent = self.response_complete = True
        source = self._source
        return b"".join(
            (
                status_line(status),
                b"content-length: 0\r\n",
                CLOSE,
                source.server_header,
                source.date_header,
                b"\r\n",
            )
        )

    def close_after_response(self) -> None:
        """Graceful shutdown: no keep-alive after the current response."""
        self.keep_alive = False

    def start_next_cycle(self) -> None:
        """Forget the finished request; the next :meth:`next_request` may run."""
        if not (self.response_complete and self.body_complete and self.keep_alive):
            raise RuntimeError("the current request/response cycle is not finished")
        self.request = None
        self.body_complete = False
        self._continue_pending = False
        self._reset_response()

    # == head rendering =====================================================================
    def _prepare(self, status: int, headers: Headers) -> None:
        """Validate the app's status and headers (see :mod:`.prepared`)."""
        if self.response_started:
            raise ResponseError("the response has already started")
        self._head = prepare_head(status, headers)
        self.response_started = True

    def _commit(self, length: int | None) -> bytes:
        """The full head; ``length`` is the body size when known. Sets the body framing."""
        head = self._head
        assert head is not None
        status = head.status
        parts = [head.block]  # replaced below if the app's Connection header must go
        append = parts.append
        if status < 200 or status in (204, 304):
            self.send_body = False
            self._mode = _NO_BODY
        else:
            self.send_body = not self._head_request
            app_length = head.app_length
            if app_length is not None:
                self._mode = _LENGTH
                self._remaining = app_length
            elif length is not None:
                self._mode = _LENGTH
                self._remaining = length
                append(b"content-length: %d\r\n" % length)
            elif self._http11:
                self._mode = _CHUNKED
                append(CHUNKED)
            else:
                self._mode = _CLOSE_DELIMITED
                if self.send_body:
                    self.keep_alive = False
        if self._continue_pending and not self._events:
            # Answered before asking for a body the client holds back: that body never
            # comes, so the connection cannot be reused; say so (RFC 9110 10.1.1).
            self.keep_alive = False
        elif length is not None and not self.body_complete and self._unread_body_too_large():
            # The response is whole, so the rest of the body will be dropped: past the
            # discard limit that ends the connection, which the client should hear now.
            self.keep_alive = False
        if head.app_close:
            self.keep_alive = False
        elif not self.keep_alive:
            if head.app_connection:  # e.g. "keep-alive": ours says close, and only ours
                parts[0] = head.block_without_connection()
            append(CLOSE)
        elif not self._http11 and not head.app_connection:
            append(KEEP_ALIVE)
        source = self._source
        if not head.has_server:
            append(source.server_header)
        if not head.has_date:
            append(source.date_header)
        append(b"\r\n")
        self.head_sent = True
        return b"".join(parts)

    def _unread_body_too_large(self) -> bool:
        """The declared body has more than ``DISCARD_LIMIT`` bytes left to drop.

        A chunked body's remainder is unknown until it has been read: not counted.
        """
        request = self.request
        if request is None:
            return False
        for name, value in request.headers:
            if name == b"content-length":
                return int(value) - self._body_taken > DISCARD_LIMIT
        return False

    def _whole(self, body: bytes) -> tuple[bytes, bytes]:
        head = self._commit(len(body))
        if not self.send_body:
            body = b""
        elif self._mode == _LENGTH:
            remaining = self._remaining
            if len(body) != remaining:  # _clip and _complete, inlined for the common case
                body = self._clip(body)
                if self._remaining:  # fewer bytes than the app announced
                    self.keep_alive = False
            else:
                self._remaining = 0
        self.response_complete = True
        return head, body

    def _clip(self, data: bytes) -> bytes:
        """Enforce the content-length: cut off excess bytes (and close afterwards)."""
        remaining = self._remaining
        if len(data) > remaining:
            data = data[:remaining]
            self.keep_alive = False
        self._remaining = remaining - len(data)
        return data

    def _complete(self) -> None:
        if self.send_body and self._mode == _LENGTH and self._remaining:
            self.keep_alive = False  # fewer bytes than announced: only closing tells the client
        self.response_complete = True
