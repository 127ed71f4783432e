"""``wrap_wsgi_with_proxy_headers``: REMOTE_ADDR and scheme from X-Forwarded-* headers."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

from .trust import TrustedHosts

__all__ = ["WSGIApp", "wrap_wsgi_with_proxy_headers"]

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]

_SCHEMES = frozenset(("http", "https"))


def wrap_wsgi_with_proxy_headers(
    app: WSGIApp, trusted_hosts: str | Iterable[str] = "127.0.0.1"
) -> WSGIApp:
    """Wrap ``app`` so requests relayed by a trusted proxy carry the real client.

    When ``REMOTE_ADDR`` is trusted and ``X-Forwarded-For`` was sent,
    ``REMOTE_ADDR`` becomes the client it names and ``X-Forwarded-Proto``
    (http, https) sets ``wsgi.url_scheme``. The environ is changed in place.
    """
    trusted = TrustedHosts(trusted_hosts)

    @wraps(app)
    def wrapped(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        _apply_forwarded_headers(environ, trusted)
        return app(environ, start_response)

    return wrapped


def _apply_forwarded_headers(environ: Environ, trusted: TrustedHosts) -> None:
    forwarded_for = environ.get("HTTP_X_FORWARDED_FOR")
    if not forwarded_for or environ.get("REMOTE_ADDR") not in trusted:
        return
    host = trusted.client_host(forwarded_for)
    if not host:
        return  # no client named: the proto alone proves nothing either
    environ["REMOTE_ADDR"] = host
    proto = environ.get("HTTP_X_FORWARDED_PROTO", "").strip()
    if proto in _SCHEMES:
        environ["wsgi.url_scheme"] = proto
