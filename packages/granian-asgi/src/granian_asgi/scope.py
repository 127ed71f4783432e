"""Building the ASGI ``http`` and ``websocket`` scopes from the core's request objects.

Everything that is the same for every request of a worker (the ``asgi`` dict,
``root_path``) is computed once; per request we build one dict literal. On TLS the
``tls`` extension is computed once per connection (see :mod:`granian_asgi.tls`).
"""

from __future__ import annotations

from typing import Any

from granian_core.exchange import ConnectionInfo, Headers, HTTPExchange, TLSInfo
from granian_core.websocket import WebSocketSession

from .asgi_types import ASGI_VERSION, Scope
from .tls import tls_extension

__all__ = ["HTTPScopeFactory"]

_WS_SCHEMES = {"http": "ws", "https": "wss"}


class HTTPScopeFactory:
    """Makes ``http`` and ``websocket`` scopes for one worker."""

    __slots__ = ("_root_path",)

    def __init__(self, root_path: str) -> None:
        # ``path`` keeps the prefix (as Granian does); ``root_path`` only announces it.
        self._root_path = root_path

    def build(self, exchange: HTTPExchange, state: dict[str, Any]) -> Scope:
        conn = exchange.conn
        server: tuple[str, int | None] | None = conn.server
        if conn.unix_path is not None:
            # ASGI: a Unix socket server is ``[path, None]``.
            server = (conn.unix_path, None)
        headers = exchange.headers
        if exchange.authority is not None:
            headers = _with_host(headers, exchange.authority)
        tls = conn.tls
        return {
            "type": "http",
            "asgi": ASGI_VERSION.copy(),  # an app may change its own scope
            "http_version": exchange.http_version,
            "method": exchange.method,
            "scheme": conn.scheme,
            "path": exchange.path,
            "raw_path": exchange.raw_path,
            "query_string": exchange.query_string,
            "root_path": self._root_path,
            "headers": headers,
            "client": conn.client,
            "server": server,
            "state": state.copy(),
            "extensions": _http_extensions(exchange.http_version, tls),
        }

    def build_websocket(self, session: WebSocketSession, state: dict[str, Any]) -> Scope:
        conn = session.conn
        headers = session.headers
        if session.authority is not None:
            headers = _with_host(headers, session.authority)
        tls = conn.tls
        return {
            "type": "websocket",
            "asgi": ASGI_VERSION.copy(),  # an app may change its own scope
            "http_version": session.http_version,
            "scheme": _WS_SCHEMES.get(conn.scheme, conn.scheme),
            "path": session.path,
            "raw_path": session.raw_path,
            "query_string": session.query_string,
            "root_path": self._root_path,
            "headers": headers,
            "client": conn.client,
            "server": _server(conn),
            "subprotocols": session.subprotocols,
            "state": state.copy(),
            "extensions": {"websocket.http.response": {}}
            if tls is None
            else {"websocket.http.response": {}, "tls": tls_extension(tls)},
        }


def _server(conn: ConnectionInfo) -> tuple[str, int | None] | None:
    if conn.unix_path is not None:
        return (conn.unix_path, None)  # ASGI: a Unix socket server is ``[path, None]``
    return conn.server


def _with_host(headers: Headers, authority: str) -> Headers:
    """``headers`` with the authority as their first field, ``host``, in place of any other.

    HTTP/2 carries the host as ``:authority`` (a ``host`` beside it must agree); ASGI puts
    it first as ``host``. An HTTP/1 absolute-form target names the host that counts:
    RFC 9112 3.2.2 has the server ignore the ``Host`` header then.
    """
    host = (b"host", authority.encode("latin-1"))
    if not any(name == b"host" for name, _ in headers):
        return [host, *headers]
    return [host, *(pair for pair in headers if pair[0] != b"host")]


def _http_extensions(http_version: str, tls: TLSInfo | None) -> dict[str, Any]:
    # Response trailers go out on HTTP/2 only (see http.py); a fresh dict per request,
    # since apps may add to scope["extensions"].
    extensions: dict[str, Any] = {"http.response.pathsend": {}}
    if http_version == "2":
        extensions["http.response.trailers"] = {}
    if tls is not None:
        extensions["tls"] = tls_extension(tls)
    return extensions
