"""The PEP 3333 ``environ``: a per-worker constant part, copied and completed per request."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from granian_core.caches import remember
from granian_core.urlpath import after_prefix, unquote_path

from .file_wrapper import FileWrapper
from .tls import ssl_environ

if TYPE_CHECKING:
    from granian_core.exchange import ConnectionInfo, HTTPExchange

__all__ = ["EnvironBuilder"]

SERVER_SOFTWARE = "Granian"

_PROTOCOLS = {"1.0": "HTTP/1.0", "1.1": "HTTP/1.1", "2": "HTTP/2"}

#: Headers that CGI names without the ``HTTP_`` prefix.
_CGI_HEADERS = {b"content-type": "CONTENT_TYPE", b"content-length": "CONTENT_LENGTH"}

#: Request keys the process environment must not pre-set: the CGI meta-variables of a
#: request (RFC 3875 4.1) and the common extensions. A ``REMOTE_USER`` left in the
#: server's environment would log every request in (Django's RemoteUserMiddleware).
_REQUEST_KEYS = (
    "REQUEST_METHOD",
    "PATH_INFO",
    "PATH_TRANSLATED",
    "QUERY_STRING",
    "REMOTE_ADDR",
    "REMOTE_PORT",
    "REMOTE_HOST",
    "REMOTE_IDENT",
    "REMOTE_USER",
    "AUTH_TYPE",
    "SERVER_PROTOCOL",
    "SERVER_ADDR",
    "CONTENT_TYPE",
    "CONTENT_LENGTH",
    "REQUEST_URI",
    "REQUEST_SCHEME",
    "HTTPS",
)

#: Process environment keys dropped by prefix: headers and mod_ssl-style TLS facts.
_IMPERSONATING_PREFIXES = ("HTTP_", "SSL_")

#: Header names seen so far → environ key. Bounded so odd clients cannot grow it forever.
_KEY_CACHE_LIMIT = 512
#: Connections whose keys are remembered (emptied when full; see granian_core.caches).
_CONN_CACHE_LIMIT = 1024


class EnvironBuilder:
    """Builds each request's environ from a base built once per worker."""

    def __init__(self, url_path_prefix: str | None, multiprocess: bool) -> None:
        prefix = (url_path_prefix or "").rstrip("/")
        self.script_name = prefix
        self._raw_prefix = quote(prefix).encode("ascii")
        self.base = _base_environ(prefix, multiprocess)
        self._keys: dict[bytes, str] = dict(_CGI_HEADERS)
        #: id(conn) → (conn, its keys): the same for every request of a keep-alive
        #: connection, and requests of many connections interleave. The entry holds
        #: the ConnectionInfo, so its id cannot be reused while cached. Single dict
        #: operations are atomic: builds run on several pool threads at once.
        self._conn_keys: dict[int, tuple[ConnectionInfo, dict[str, str]]] = {}

    def build(self, exchange: HTTPExchange) -> dict[str, Any]:
        environ = self.base.copy()
        environ.update(self._connection_keys(exchange.conn))
        environ["REQUEST_METHOD"] = exchange.method
        environ["SERVER_PROTOCOL"] = _PROTOCOLS.get(exchange.http_version, "HTTP/1.1")
        if self.script_name:
            environ["SCRIPT_NAME"], environ["PATH_INFO"] = self._split_prefix(exchange.raw_path)
        else:
            environ["PATH_INFO"] = _decoded(exchange.raw_path)
        query = exchange.query_string
        environ["QUERY_STRING"] = query.decode("latin-1") if query else ""
        self._add_headers(environ, exchange.headers)
        if exchange.authority:  # HTTP/2, or an absolute-form target: it wins over Host
            environ["HTTP_HOST"] = exchange.authority
        return environ

    def _split_prefix(self, raw_path: bytes) -> tuple[str, str]:
        """SCRIPT_NAME and PATH_INFO under ``--url-path-prefix``.

        The prefix is matched on the path as sent, by whole segments: ``/api%2Fx`` is
        not under ``/api``, and a path outside the prefix has an empty SCRIPT_NAME
        (PEP 3333 rebuilds the URL from both: the prefix must not appear in it).
        """
        rest = after_prefix(raw_path, self._raw_prefix)
        if rest is None:
            return "", _decoded(raw_path)
        return self.script_name, _decoded(rest)

    def _add_headers(self, environ: dict[str, Any], headers: list[tuple[bytes, bytes]]) -> None:
        keys = self._keys
        for name, value in headers:
            key = keys.get(name)
            if key is None:
                key = self._remember_key(name)
                if key is None:
                    continue
            text = value.decode("latin-1")
            if key in environ:
                separator = "; " if key == "HTTP_COOKIE" else ","
                environ[key] = environ[key] + separator + text
            else:
                environ[key] = text

    def _remember_key(self, name: bytes) -> str | None:
        if b"_" in name:
            # CGI maps "-" to "_": X_Forwarded_For would pass for X-Forwarded-For, behind a
            # proxy that only sets or strips the latter. Dropped, as Gunicorn and nginx do.
            return None
        key = "HTTP_" + name.decode("latin-1").upper().replace("-", "_")
        if len(self._keys) < _KEY_CACHE_LIMIT:
            self._keys[name] = key
        return key

    def _connection_keys(self, conn: ConnectionInfo) -> dict[str, str]:
        cached = self._conn_keys.get(id(conn))
        if cached is not None and cached[0] is conn:
            return cached[1]
        keys = {"wsgi.url_scheme": conn.scheme}
        if conn.server is not None:
            keys["SERVER_NAME"] = conn.server[0]
            keys["SERVER_PORT"] = str(conn.server[1])
        if conn.client is not None:
            keys["REMOTE_ADDR"] = conn.client[0]
            keys["REMOTE_PORT"] = str(conn.client[1])
        else:  # Unix socket: no peer address, but CGI requires the key
            keys["REMOTE_ADDR"] = ""
        if conn.tls is not None:
            keys.update(ssl_environ(conn.tls))
        remember(self._conn_keys, id(conn), (conn, keys), _CONN_CACHE_LIMIT)
        return keys


def _decoded(raw_path: bytes) -> str:
    """PEP 3333: the decoded path's bytes, each read as one latin-1 character."""
    return unquote_path(raw_path).decode("latin-1")


def _base_environ(script_name: str, multiprocess: bool) -> dict[str, Any]:
    # Like Granian, the process environment is part of every request's environ.
    environ: dict[str, Any] = dict(os.environ)
    # Request facts, headers and TLS facts must not be impersonated by the process
    # environment (an ``HTTPS=on`` there would make every cleartext request look secure).
    for key in [key for key in environ if key.startswith(_IMPERSONATING_PREFIXES)]:
        del environ[key]
    for key in _REQUEST_KEYS:
        environ.pop(key, None)
    environ.update(
        {
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SCRIPT_NAME": script_name,
            "SERVER_NAME": "",
            "SERVER_PORT": "",
            "SERVER_SOFTWARE": SERVER_SOFTWARE,
            "wsgi.version": (1, 0),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": multiprocess,
            "wsgi.run_once": False,
            "wsgi.file_wrapper": FileWrapper,
            "wsgi.input_terminated": True,
        }
    )
    return environ
