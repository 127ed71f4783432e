"""The request/response contract that interface adapters consume.

One :class:`HTTPExchange` exists per HTTP request (an HTTP/1.1 request on a
connection, or one HTTP/2 stream). The protocol layer creates it, fills in the
request facts, and hands it to the interface's ``handle_http``. The adapter
reads the body and writes the response only through the methods below; it never
touches sockets, parsers or framing.

The contract is documented for third-party adapters in the package README.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any

from .urlpath import path_text

__all__ = [
    "ClientDisconnected",
    "ConnectionInfo",
    "HTTPExchange",
    "Headers",
    "ResponseError",
    "TLSInfo",
    "check_final_status",
    "is_final_status",
    "is_repeated_length",
]

#: Header lists are ``(name, value)`` byte pairs. Request names are lower-case.
Headers = list[tuple[bytes, bytes]]


class ClientDisconnected(ConnectionError):
    """The client went away before the request body was fully received or while writing."""


class ResponseError(RuntimeError):
    """The adapter misused the response API (e.g. started a response twice)."""


def is_final_status(status: object) -> bool:
    """Whether ``status`` can answer a request: an int from 200 to 999.

    A 1xx is interim by definition: sent as the response, a client would wait for
    the real one (HTTP/1.1), or reset the connection (HTTP/2 forbids ending a
    stream on one).
    """
    return isinstance(status, int) and not isinstance(status, bool) and 200 <= status <= 999


def check_final_status(status: object) -> None:
    """Raise :class:`ResponseError` unless ``status`` can answer a request (see above)."""
    if not is_final_status(status):
        raise ResponseError(f"invalid HTTP status {status!r} for a response (200 to 999)")


def is_repeated_length(declared: int | None, length: int) -> bool:
    """Whether an app's ``content-length`` repeats one it already gave (send it once).

    Two fields, even equal, make clients refuse the response (llhttp, nghttp2);
    different values leave the framing ambiguous (RFC 9110 §8.6): a :class:`ResponseError`.
    """
    if declared is None:
        return False
    if length != declared:
        raise ResponseError(f"conflicting content-length values {declared} and {length}")
    return True


@dataclass(frozen=True, slots=True)
class TLSInfo:
    """Facts about the TLS session of a connection (HTTPS only)."""

    version: str | None
    cipher: str | None
    alpn_protocol: str | None
    server_cert: bytes | None  # DER
    client_cert_chain: tuple[bytes, ...]  # DER, leaf first; empty without mTLS


@dataclass(slots=True)
class ConnectionInfo:
    """Per-connection facts shared by every exchange on that connection.

    ``client``/``server`` are ``(host, port)`` for TCP. On a Unix socket
    ``server`` is ``(path, 0)``, ``client`` is ``None`` and ``unix_path`` is set.
    """

    client: tuple[str, int] | None
    server: tuple[str, int] | None
    scheme: str = "http"  # "http" | "https"
    unix_path: str | None = None
    tls: TLSInfo | None = None


class HTTPExchange(abc.ABC):
    """One request and its response, as seen by an interface adapter.

    Request facts are plain attributes, set before ``handle_http`` is called:

    ``conn``          the :class:`ConnectionInfo` of the connection
    ``method``        request method, e.g. ``"GET"``
    ``http_version``  ``"1.0"``, ``"1.1"`` or ``"2"``
    ``raw_path``      the request target's path, undecoded, without the query
    ``query_string``  the bytes after ``?`` (``b""`` when absent)
    ``headers``       :data:`Headers`, names lower-case, in received order
    ``authority``     the HTTP/2 ``:authority`` or an absolute-form host, else ``None``

    Body: ``await receive()`` returns the next chunk of the request body, as
    the transport framed it; ``body_complete`` turns true once the last chunk
    has been returned (so an adapter can tell "more to come" without another
    call). After that ``receive()`` returns ``b""`` at once; ``await read_body()``
    reads what is left, whole; ``take_received_body()`` takes it without waiting
    when all of it has already arrived. Reading applies backpressure: the
    protocol stops reading the socket (HTTP/1) or withholds window updates
    (HTTP/2) while unread body data is buffered.

    Response, whole body (fast path): ``send_response(status, headers, body)``
    writes head and body in one transport write.

    Response, streamed: ``start_response(status, headers)`` then any number of
    ``write(data)`` and one ``end_response(data=b"")``. The head is held back
    until the first body bytes (or the end), so a short response is still one
    write and gets a ``content-length`` instead of chunked framing. ``write`` is
    synchronous; when ``write_paused`` is true afterwards the adapter must
    ``await drain()`` before writing more (write backpressure).

    Response, file: ``await send_file(status, headers, path, offset, count)``
    sends the file (sendfile where the transport allows). It opens the file
    before writing anything, so ``FileNotFoundError``/``IsADirectoryError``
    propagate with no bytes sent and the adapter can still answer otherwise.

    The framing headers (``content-length``/``transfer-encoding``) are computed
    by the exchange unless the adapter passes ``content-length`` itself, which
    is then enforced. ``server`` and ``date`` are added unless present.
    """

    __slots__ = ()

    conn: ConnectionInfo
    method: str
    http_version: str
    raw_path: bytes
    query_string: bytes
    headers: Headers
    authority: str | None

    # Set by the exchange as the response progresses.
    status: int  # the status sent, 0 before the head was committed
    response_started: bool
    response_complete: bool
    body_complete: bool
    disconnected: bool

    # -- helpers every adapter needs ------------------------------------------------
    @property
    def path(self) -> str:
        """``raw_path`` percent-decoded and read as UTF-8 (invalid bytes → U+FFFD)."""
        return path_text(self.raw_path)

    # -- request body ---------------------------------------------------------------
    @abc.abstractmethod
    async def receive(self) -> bytes:
        """Next body chunk, ``b""`` once complete. Raises :class:`ClientDisconnected`."""

    async def read_body(self) -> bytes:
        """The rest of the request body, whole. Raises :class:`ClientDisconnected`."""
        chunks = [await self.receive()]
        while not self.body_complete:
            chunks.append(await self.receive())
        return b"".join(chunks)  # a single chunk is returned as is, without a copy

    def take_received_body(self) -> bytes | None:
        """The rest of the request body if all of it has already arrived, else ``None``.

        Never waits: a whole body is taken (``body_complete`` turns true), while
        ``None`` leaves everything for ``receive()``. It lets an adapter that must
        have the whole body before it starts the app (WSGI) skip a task when a
        small body came with its head. The default knows nothing of the protocol's
        buffers, so it only reports an empty body.
        """
        return b"" if self.body_complete else None

    @abc.abstractmethod
    async def wait_disconnect(self) -> None:
        """Resolve when the client disconnects or the exchange is over (response sent)."""

    # -- response -------------------------------------------------------------------
    @abc.abstractmethod
    def send_response(self, status: int, headers: Headers, body: bytes = b"") -> None:
        """Send a whole response in one write. Raises :class:`ResponseError` if started."""

    @abc.abstractmethod
    def start_response(self, status: int, headers: Headers) -> None:
        """Commit status and headers for a streamed response."""

    @abc.abstractmethod
    def write(self, data: bytes) -> None:
        """Queue body bytes of a streamed response (dropped silently once disconnected).

        The head is held back until the first non-empty write (so a body ended at once
        still gets a content-length); :meth:`send_head` sends it sooner.
        """

    def send_head(self) -> None:
        """Send a started response's head now, if it is still held back.

        For interfaces that commit status and headers at once (RSGI's
        ``response_stream``), so a client sees them before the first body chunk.
        """
        raise NotImplementedError

    @property
    @abc.abstractmethod
    def write_paused(self) -> bool:
        """True while the transport's write buffer is over its high-water mark."""

    @abc.abstractmethod
    async def drain(self) -> None:
        """Wait until writing may continue. Raises :class:`ClientDisconnected`."""

    @abc.abstractmethod
    def end_response(self, data: bytes = b"") -> None:
        """Write the last body bytes (if any) and finish the response."""

    @abc.abstractmethod
    async def send_file(
        self,
        status: int,
        headers: Headers,
        path: str,
        offset: int = 0,
        count: int | None = None,
    ) -> None:
        """Send ``count`` bytes of the file at ``path`` from ``offset`` (to EOF if None).

        ``count`` is clamped at end of file, and ``content-length`` is set from the
        bytes actually sent unless the adapter gave one.
        """

    @abc.abstractmethod
    def abort(self) -> None:
        """Drop the connection now (e.g. the app failed after the response started)."""

    # -- optional extras --------------------------------------------------------------
    def extensions(self) -> dict[str, Any]:
        """Protocol extras an adapter may expose (e.g. trailers on HTTP/2)."""
        return {}
