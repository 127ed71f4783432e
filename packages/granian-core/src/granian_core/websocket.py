"""The WebSocket session contract: what an interface adapter sees of one WebSocket.

The core owns the handshake checks, framing, fragmentation, ping/pong, size
limits, compression and the close handshake. An adapter gets one
:class:`WebSocketSession` per valid upgrade request (an HTTP/1.1 ``Upgrade``, or an
HTTP/2 extended CONNECT, RFC 8441) in ``Interface.handle_websocket`` and maps
its own API onto the few methods below, as it maps HTTP onto ``HTTPExchange``.

The contract is documented for third-party adapters in the package README.
"""

from __future__ import annotations

import abc
from typing import Final

# ClientDisconnected is re-exported: adapters need only this module for sessions.
from .exchange import ClientDisconnected, ConnectionInfo, Headers, ResponseError
from .urlpath import path_text

__all__ = [
    "ABNORMAL_CLOSURE",
    "GOING_AWAY",
    "INTERNAL_ERROR",
    "INVALID_PAYLOAD",
    "MESSAGE_TOO_BIG",
    "NORMAL_CLOSURE",
    "NO_STATUS",
    "PROTOCOL_ERROR",
    "ClientDisconnected",
    "CloseMessage",
    "Message",
    "WebSocketSession",
    "WebSocketStateError",
    "is_valid_close_code",
]

#: Close codes an adapter commonly needs (RFC 6455 §7.4.1).
NORMAL_CLOSURE: Final = 1000
GOING_AWAY: Final = 1001
PROTOCOL_ERROR: Final = 1002
NO_STATUS: Final = 1005
#: Never on the wire: the connection ended without a close frame.
ABNORMAL_CLOSURE: Final = 1006
INVALID_PAYLOAD: Final = 1007
MESSAGE_TOO_BIG: Final = 1009
INTERNAL_ERROR: Final = 1011

#: Codes that are only ever reported locally, never sent in a close frame.
_LOCAL_ONLY = frozenset({1004, 1005, 1006, 1015})
#: Registered codes below 3000 an endpoint may send (RFC 6455 + IANA registry).
_SENDABLE_PROTOCOL_CODES = frozenset(range(1000, 1015)) - _LOCAL_ONLY


def is_valid_close_code(code: object) -> bool:
    """Whether ``code`` may be sent in a close frame (1000-1014 registered, 3000-4999)."""
    if type(code) is not int:
        return False
    return code in _SENDABLE_PROTOCOL_CODES or 3000 <= code <= 4999


class WebSocketStateError(ResponseError):
    """The adapter called a session method in the wrong state (e.g. accept twice)."""


class CloseMessage:
    """The end of the session, as :meth:`WebSocketSession.receive` reports it once.

    ``code`` is the peer's close code (1005 when its close frame had none), the
    code the server closed with (1002 bad frame, 1007 invalid UTF-8, 1009 too
    big, 1011 keepalive timeout, 1001 shutdown), or 1006 when the connection
    ended without a close frame.
    """

    __slots__ = ("code", "reason")

    def __init__(self, code: int, reason: str = "") -> None:
        self.code = code
        self.reason = reason

    def __repr__(self) -> str:
        return f"CloseMessage({self.code}, {self.reason!r})"


#: What ``receive()`` returns: a text message, a binary message, or the end.
Message = str | bytes | CloseMessage


class WebSocketSession(abc.ABC):
    """One WebSocket, from its upgrade request to the end of the connection.

    Request facts are plain attributes, set before ``handle_websocket`` runs
    (the same names as on ``HTTPExchange``):

    ``conn``          the :class:`ConnectionInfo` of the connection
    ``method``        ``"GET"`` (HTTP/1.1) or ``"CONNECT"`` (HTTP/2)
    ``http_version``  ``"1.1"`` or ``"2"``
    ``raw_path``      the request target's path, undecoded, without the query
    ``query_string``  the bytes after ``?`` (``b""`` when absent)
    ``headers``       names lower-case, in received order
    ``authority``     the HTTP/2 ``:authority`` or an absolute-form host, else ``None``
    ``subprotocols``  the client's ``Sec-WebSocket-Protocol`` offers, in order

    Handshake, exactly one of (synchronous, they only queue bytes):

    - ``accept(subprotocol=None, headers=None)`` completes the upgrade (101 on
      HTTP/1.1). Raises :class:`ClientDisconnected` if the client already left.
    - ``reject(status, headers, body)`` answers with an HTTP response instead;
      the connection is then closed.

    Messages, after ``accept``:

    - ``await receive()`` returns the next whole message: ``str`` (text) or
      ``bytes`` (binary); fragments are reassembled. Once the session is over
      it returns a :class:`CloseMessage` once, then raises
      :class:`ClientDisconnected`. One receiver at a time. Before ``accept``
      it waits for the connection to end. Unread messages are bounded: the core
      stops reading the socket while they pile up.
    - ``await send_text(str)`` / ``await send_bytes(bytes)`` send one message
      and wait while the client reads slowly (the write buffer is bounded).
      They raise :class:`ClientDisconnected` once the session is closed.
    - ``close(code=1000, reason="")`` starts the close handshake (synchronous;
      a second call does nothing). The transport closes when the peer answers,
      or after a timeout. ``code`` must pass :func:`is_valid_close_code`.

    State: ``status`` (0 until the handshake is answered, then 101 or the reject
    status), ``accepted``, ``closed`` (no more sends possible), ``disconnected``
    (the connection is gone), ``close_code``/``close_reason`` (what the final
    :class:`CloseMessage` carries, ``None`` while open).

    Misuse (accept twice, send before accept, concurrent receive) raises
    :class:`WebSocketStateError`. Pings are answered by the core and never
    reach the adapter.
    """

    __slots__ = ()

    conn: ConnectionInfo
    method: str
    http_version: str
    raw_path: bytes
    query_string: bytes
    headers: Headers
    authority: str | None
    subprotocols: list[str]

    status: int
    accepted: bool
    closed: bool
    disconnected: bool
    close_code: int | None
    close_reason: str

    @property
    def path(self) -> str:
        """``raw_path`` percent-decoded and read as UTF-8 (invalid bytes → U+FFFD)."""
        return path_text(self.raw_path)

    # -- handshake ----------------------------------------------------------------------
    @abc.abstractmethod
    def accept(self, subprotocol: str | None = None, headers: Headers | None = None) -> None:
        """Complete the upgrade, announcing ``subprotocol`` and adding ``headers``."""

    @abc.abstractmethod
    def reject(self, status: int, headers: Headers, body: bytes = b"") -> None:
        """Answer the upgrade request with an HTTP response; the connection then closes."""

    # -- messages -------------------------------------------------------------------------
    @abc.abstractmethod
    async def receive(self) -> Message:
        """The next message, or the :class:`CloseMessage` once the session is over."""

    @abc.abstractmethod
    async def send_text(self, data: str) -> None:
        """Send one text message; waits while the client is behind."""

    @abc.abstractmethod
    async def send_bytes(self, data: bytes) -> None:
        """Send one binary message; waits while the client is behind."""

    @abc.abstractmethod
    def close(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        """Start the close handshake (no-op once closed)."""

    @abc.abstractmethod
    def abort(self) -> None:
        """Drop the connection now, without a close handshake."""
