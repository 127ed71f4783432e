"""The fast HTTP/1.1 request parser: httptools (llhttp), with h11's rules added.

llhttp is strict by default (it rejects Content-Length with Transfer-Encoding,
bad chunk framing, whitespace before a colon, bare LF). On top of it this
parser enforces what h11 also enforces: a head size limit (431; httptools has
no knob, so head bytes are counted), exactly one ``Host`` on HTTP/1.1,
``Transfer-Encoding: chunked`` as the only coding (501), HTTP/1.0 and 1.1 only
(505).

Upgrade requests: llhttp stops after their head and raises
``HttpParserUpgrade``. Until the WebSocket layer takes such bytes over, an
upgrade request is served as plain HTTP: parsing resumes where llhttp stopped.
llhttp also skips the *body* of an upgrade request; when one was announced the
framing headers are replayed into a fresh parser so the body is parsed normally.
In WebSocket mode a ``websocket`` upgrade instead stops the parser where llhttp
stopped: the rest is kept raw for the WebSocket layer (``take_trailing``).
"""

from __future__ import annotations

import httptools

from .events import END_OF_BODY, BodyData, ParseError, RequestHead
from .parsers import (
    ParserBase,
    announces_body,
    expects_continue,
    framing_forbids_reuse,
    upgrade_protocol,
)

__all__ = ["HttptoolsParser"]

#: Header names this parser looks at while the head streams in.
_WATCHED = frozenset(
    {b"host", b"connection", b"expect", b"upgrade", b"transfer-encoding", b"content-length"}
)
#: Bytes a head line costs beyond its name and value (": " and CRLF).
_LINE_OVERHEAD = 4
_METHODS = {
    m.encode(): m
    for m in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE")
}


#: What a closed parser holds instead of its llhttp parser (never fed: input is ignored).
_CLOSED = httptools.HttpRequestParser(object())


class _Reject(Exception):
    """Raised from a callback to stop llhttp; the reason is in ``_error``."""


class HttptoolsParser(ParserBase):
    """Parses a stream of requests with httptools; see :class:`~.parsers.RequestParser`."""

    __slots__ = (
        "_began_in_feed",
        "_body_skipped",
        "_connection",
        "_error",
        "_expect",
        "_framing",
        "_head_bytes",
        "_headers",
        "_hosts",
        "_in_body",
        "_in_head",
        "_parser",
        "_replaying",
        "_stalled_bytes",
        "_upgrade",
        "_url",
        "_ws_head",
    )

    def __init__(
        self, max_head_size: int, keep_alive: bool = True, websocket: bool = False
    ) -> None:
        super().__init__(max_head_size, keep_alive, websocket)
        self._parser = httptools.HttpRequestParser(self)
        self._error: ParseError | None = None
        self._replaying = False
        self._body_skipped = False
        #: The last head was a WebSocket upgrade (WebSocket mode): stop after it.
        self._ws_head = False
        # Head size accounting: completed fields (precise) and whole later feeds (stalls).
        self._in_head = False
        #: Between a head and its message's end: trailers may come (never merged).
        self._in_body = False
        self._began_in_feed = False
        self._stalled_bytes = 0
        self._reset_head()

    def _reset_head(self) -> None:
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._head_bytes = 0
        self._hosts = 0
        self._connection: bytes | None = None
        self._expect: bytes | None = None
        self._upgrade: bytes | None = None
        self._framing: list[tuple[bytes, bytes]] | None = None

    # -- input ---------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        trailing = self._trailing
        if trailing is not None:
            trailing += data
            self.buffered += len(data)
            return
        buffered = self.buffered
        while not self._done:
            try:
                self._parser.feed_data(data)
            except httptools.HttpParserUpgrade as exc:
                data = data[exc.args[0] :]
                if self._ws_head:
                    self._stop_for_upgrade(data)
                    return
                if self._body_skipped:
                    self._replay_framing()
                continue
            except httptools.HttpParserError as exc:
                self._on_error(exc)
                return
            break
        # A head still incomplete after a whole feed grows by that feed: bound it
        # (counting only feeds after the one it began in, so never over-counting).
        if self._in_head:
            if not self._began_in_feed:
                self._account_stall(len(data))
        elif self._in_body:
            # Bytes that gave no body (chunk framing, trailers: httptools holds a trailer
            # line until it ends) are bounded like a head; body bytes are flow-controlled.
            if self.buffered == buffered:
                self._account_stall(len(data))
            else:
                self._stalled_bytes = 0
        self._began_in_feed = False

    def close(self) -> None:
        # llhttp holds this object's bound callbacks: a reference cycle that only the
        # cycle collector would free, long after the connection, if it was long-lived.
        super().close()
        self._parser = _CLOSED

    def _account_stall(self, fed: int) -> None:
        self._stalled_bytes += fed
        if self._stalled_bytes > self._max_head:
            self._fail(ParseError(431, "Request header fields too large"))

    def _stop_for_upgrade(self, rest: bytes) -> None:
        self._trailing = bytearray(rest)
        self.buffered += len(rest)
        self._done = True

    def _on_error(self, exc: Exception) -> None:
        if self._done:  # bytes after the connection's last request: never served
            return
        error = self._error or _parse_error(exc)
        self._fail(error)

    def _fail(self, error: ParseError) -> None:
        self.events.append(error)
        self._done = True
        self._in_head = False

    def _reject(self, status: int, reason: str) -> _Reject:
        self._error = ParseError(status, reason)
        return _Reject()

    # -- llhttp callbacks ------------------------------------------------------------
    def on_message_begin(self) -> None:
        if self._done:
            raise _Reject()
        if self._replaying:
            return
        self._reset_head()
        self._in_head = True
        self._began_in_feed = True
        self._stalled_bytes = 0

    def on_url(self, url: bytes) -> None:
        if not self._replaying:
            self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self._in_head:
            # A trailer field (or the framing a replay feeds): never merged into the head
            # (RFC 9110 §6.5.1), so it cannot add a Host or an X-Forwarded-For.
            return
        lname = name.lower()
        # llhttp keeps the whitespace after a value, which is not part of it (RFC 9112
        # 5); rstrip returns the same object when there is none.
        value = value.rstrip(b" \t")
        self._headers.append((lname, value))
        self._head_bytes += len(name) + len(value) + _LINE_OVERHEAD
        if lname in _WATCHED:
            self._watched_header(lname, value)

    def _watched_header(self, name: bytes, value: bytes) -> None:
        if name == b"host":
            self._hosts += 1
        elif name == b"connection":
            old = self._connection
            self._connection = value if old is None else old + b", " + value
        elif name == b"expect":
            self._expect = value
        elif name == b"upgrade":
            self._upgrade = value
        else:  # framing headers, replayed if llhttp skips an upgrade request's body
            if name == b"transfer-encoding" and value.strip().lower() != b"chunked":
                raise self._reject(501, "Only Transfer-Encoding: chunked is supported")
            if self._framing is None:
                self._framing = []
            self._framing.append((name, value))

    def on_headers_complete(self) -> None:
        if self._replaying:
            self._replaying = False
            return
        self._in_head = False
        self._in_body = True
        self._stalled_bytes = 0
        parser = self._parser
        keep_alive = parser.should_keep_alive()
        connection = self._connection
        # Without a Connection header llhttp keeps alive exactly the HTTP/1.1 requests
        # (it accepts only 0.9, 1.0, 1.1 and 2.0): this skips building the version
        # string, the costliest call here, for the common request.
        version = "1.1" if keep_alive and connection is None else parser.get_http_version()
        if version not in ("1.1", "1.0"):
            raise self._reject(505, "HTTP version not supported")
        framing = self._framing
        if framing is not None and keep_alive and framing_forbids_reuse(version, framing):
            keep_alive = False  # llhttp itself rejects CL + TE; this is TE on HTTP/1.0
        size = self._head_bytes + len(self._url)
        if size > self._max_head:
            raise self._reject(431, "Request header fields too large")
        if self._hosts != 1 and (version == "1.1" or self._hosts > 1):
            raise self._reject(400, "Missing or multiple Host headers")
        raw_method = parser.get_method()
        method = _METHODS.get(raw_method) or raw_method.decode("ascii")
        expect = self._expect
        upgrade = None if connection is None else upgrade_protocol(connection, self._upgrade)
        if self._websocket and upgrade == b"websocket":
            if self._framing is not None and announces_body(self._framing):
                raise self._reject(400, "WebSocket upgrade request with a body")
            self._ws_head = True
        # llhttp skips an upgrade request's body; remember to replay its framing.
        self._body_skipped = self._framing is not None and parser.should_upgrade()
        head = RequestHead(
            method,
            self._url,
            version,
            self._headers,
            keep_alive,
            expect is not None and expects_continue(version, expect),
            upgrade,
            size,
        )
        self.events.append(head)
        self.buffered += size
        self._last = not (keep_alive and self._keep_alive)

    def on_body(self, body: bytes) -> None:
        self.events.append(BodyData(body))
        self.buffered += len(body)

    def on_message_complete(self) -> None:
        if self._body_skipped:
            return  # the body follows, parsed by the replaying parser
        self._in_body = False
        self.events.append(END_OF_BODY)
        if self._last:
            self._done = True

    # -- upgrade requests with a body -------------------------------------------------
    def _replay_framing(self) -> None:
        """Parse the skipped body: a fresh parser gets a synthetic head with its framing."""
        self._body_skipped = False
        framing = b"".join(name + b": " + value + b"\r\n" for name, value in self._framing or ())
        self._parser = httptools.HttpRequestParser(self)
        self._replaying = True
        self._parser.feed_data(b"POST / HTTP/1.1\r\n" + framing + b"\r\n")


#: llhttp's error for a well-formed version it does not know (it knows 0.9, 1.0, 1.1, 2.0).
_UNKNOWN_VERSION = "Invalid HTTP version"


def _parse_error(exc: Exception) -> ParseError:
    """llhttp's refusal as our status: 505 for an unsupported version, as h11's path gives."""
    reason = str(exc)
    if reason == _UNKNOWN_VERSION:
        return ParseError(505, "HTTP version not supported")
    return ParseError(400, reason or "Malformed request")
