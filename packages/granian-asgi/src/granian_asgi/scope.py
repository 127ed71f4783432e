"""Building the ASGI ``http`` scope of one request from an :class:`HTTPExchange`.

Everything that is the same for every request of a worker (the ``asgi`` dict,
``root_path``) is computed once; per request we build one dict literal.
"""

from __future__ import annotations

from typing import Any

from granian_core.exchange import Headers, HTTPExchange

from .asgi_types import ASGI_VERSION, Scope

__all__ = ["HTTPScopeFactory"]


class HTTPScopeFactory:
    """Makes ``http`` scopes for one worker."""

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
        return {
            "type": "http",
            "asgi": ASGI_VERSION,
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
            "extensions": {"http.response.pathsend": {}},
        }


def _with_host(headers: Headers, authority: str) -> Headers:
    """``headers`` with a ``host`` taken from the authority first, unless one is there.

    HTTP/2 carries the host as ``:authority``; ASGI apps expect a ``host`` header.
    """
    for name, _ in headers:
        if name == b"host":
            return headers
    return [(b"host", authority.encode()), *headers]
