"""``wrap_asgi_with_proxy_headers``: client and scheme from X-Forwarded-* headers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from functools import wraps
from typing import Any

from .trust import TrustedHosts

__all__ = ["ASGIApp", "wrap_asgi_with_proxy_headers"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Any]]
Send = Callable[[Any], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_SCHEMES = frozenset(("http", "https", "ws", "wss"))


def wrap_asgi_with_proxy_headers(
    app: ASGIApp, trusted_hosts: str | Iterable[str] = "127.0.0.1"
) -> ASGIApp:
    """Wrap ``app`` so requests relayed by a trusted proxy carry the real client.

    When the peer is trusted and sent ``X-Forwarded-For``, the scope's
    ``client`` becomes ``(host, 0)`` and ``X-Forwarded-Proto`` (http, https,
    ws, wss) sets its ``scheme``. The scope is changed in place.
    """
    trusted = TrustedHosts(trusted_hosts)

    # A plain function returning the app's awaitable: no extra coroutine per request.
    @wraps(app)
    def wrapped(scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        if scope["type"] != "lifespan":
            _apply_forwarded_headers(scope, trusted)
        return app(scope, receive, send)

    return wrapped


def _apply_forwarded_headers(scope: Scope, trusted: TrustedHosts) -> None:
    client = scope.get("client")
    # No client (a Unix socket): only "*" trusts it, as nginx in front of a socket needs.
    if (client[0] if client else None) not in trusted:
        return
    proto = ""
    forwarded_for: list[str] = []
    for name, value in scope["headers"]:
        if name == b"x-forwarded-for":
            forwarded = value.decode("latin-1").strip()
            if forwarded:  # an empty line names no one: the others still count
                forwarded_for.append(forwarded)
        elif name == b"x-forwarded-proto" and not proto:
            proto = value.decode("latin-1").strip()
    # The proto alone proves nothing about the hop that set it: it needs a client named.
    if not forwarded_for:
        return
    host = trusted.client_host(", ".join(forwarded_for))
    if not host:
        return
    scope["client"] = (host, 0)
    if proto in _SCHEMES:
        if scope["type"] == "websocket":
            proto = proto.replace("http", "ws")
        scope["scheme"] = proto
