"""The RSGI scope: a read-only view of one request, computed on access.

Building a scope costs one small object per request; each field is derived
from the exchange only when the application reads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .headers import Headers

if TYPE_CHECKING:
    from granian_core.exchange import HTTPExchange
    from granian_core.websocket import WebSocketSession

__all__ = ["Scope", "WebsocketScope"]

RSGI_VERSION = "1.6"

# RSGI names HTTP/1.0 "1" (spec table); other versions pass through unchanged.
_HTTP_VERSIONS = {"1.0": "1", "1.1": "1.1", "2": "2", "3": "3"}


class Scope:
    """``scope`` of RSGI 1.6: ``proto``, ``rsgi_version``, ``http_version``, ``server``,
    ``client``, ``scheme``, ``method``, ``path``, ``query_string``, ``headers``,
    ``authority``. Every attribute is read-only.
    """

    __slots__ = ("_exchange", "_headers")

    proto = "http"
    rsgi_version = RSGI_VERSION

    def __init__(self, exchange: HTTPExchange | WebSocketSession) -> None:
        self._exchange = exchange
        self._headers: Headers | None = None

    @property
    def http_version(self) -> str:
        version = self._exchange.http_version
        return _HTTP_VERSIONS.get(version, version)

    @property
    def server(self) -> str:
        conn = self._exchange.conn
        if conn.unix_path is not None:
            return conn.unix_path
        return format_address(conn.server)

    @property
    def client(self) -> str:
        # On a Unix socket the peer has no address: ``client`` is None, giving "".
        return format_address(self._exchange.conn.client)

    @property
    def scheme(self) -> str:
        return self._exchange.conn.scheme

    @property
    def method(self) -> str:
        return self._exchange.method

    @property
    def path(self) -> str:
        return self._exchange.path

    @property
    def query_string(self) -> str:
        return self._exchange.query_string.decode("latin-1")

    @property
    def headers(self) -> Headers:
        headers = self._headers
        if headers is None:
            headers = self._headers = Headers(self._exchange.headers)
        return headers

    @property
    def authority(self) -> str | None:
        return self._exchange.authority

    def __repr__(self) -> str:
        return (
            f"Scope(proto={self.proto!r}, http_version={self.http_version!r}, "
            f"method={self.method!r}, path={self.path!r}, query_string={self.query_string!r}, "
            f"client={self.client!r}, server={self.server!r}, scheme={self.scheme!r})"
        )


class WebsocketScope(Scope):
    """The scope of a WebSocket call: ``proto`` is ``"ws"``, ``scheme`` stays http/https."""

    __slots__ = ()

    proto = "ws"

    @property
    def method(self) -> str:
        # RSGI 1.6 section 3: "GET" for a WebSocket upgrade, also when the session is an
        # HTTP/2 extended CONNECT (RFC 8441), which RSGI does not tell apart.
        return "GET"


def format_address(address: tuple[str, int] | None) -> str:
    """``host:port`` as Rust prints socket addresses (IPv6 in brackets); ``""`` if unknown."""
    if address is None:
        return ""
    host, port = address[0], address[1]
    if ":" in host:
        return f"[{host}]:{port}"
    return f"{host}:{port}"
