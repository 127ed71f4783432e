"""granian_proxies: trust rules, the ASGI and WSGI wrappers, and one run through the server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable
from typing import Any

import httpx
import pytest
from granian_proxies import (
    TrustedHosts,
    wrap_asgi_with_proxy_headers,
    wrap_wsgi_with_proxy_headers,
)

WAIT = 10.0


# -- trusted hosts -------------------------------------------------------------------------
@pytest.mark.parametrize("spec", ["*", ["*"], ("*",), " * "])
def test_star_trusts_everyone(spec: str | list[str]) -> None:
    trusted = TrustedHosts(spec)
    assert "203.0.113.9" in trusted
    assert "some-name" in trusted
    assert None in trusted  # no peer address (a Unix socket)


@pytest.mark.parametrize("spec", ["10.0.0.1, *", ["10.0.0.1", "*"]])
def test_star_beside_other_entries_is_a_literal(spec: str | list[str]) -> None:
    # As in Granian: a list cannot open up to everyone by one stray entry.
    trusted = TrustedHosts(spec)
    assert "10.0.0.1" in trusted
    assert "203.0.113.9" not in trusted


def test_comma_separated_string() -> None:
    trusted = TrustedHosts(" 127.0.0.1 ,10.0.0.0/8, /run/proxy.sock,proxy.internal")
    assert "127.0.0.1" in trusted
    assert "10.200.3.4" in trusted
    assert "/run/proxy.sock" in trusted
    assert "proxy.internal" in trusted
    assert "11.0.0.1" not in trusted
    assert "127.0.0.2" not in trusted
    assert "other.internal" not in trusted


def test_list_of_hosts() -> None:
    trusted = TrustedHosts(["192.168.1.1", "fd00::/8"])
    assert "192.168.1.1" in trusted
    assert "fd00::1234" in trusted
    assert "fe80::1" not in trusted
    assert "192.168.1.2" not in trusted


def test_addresses_compare_as_addresses() -> None:
    trusted = TrustedHosts("::1")
    assert "0:0:0:0:0:0:0:1" in trusted
    assert "::2" not in trusted


def test_network_with_host_bits_is_a_literal() -> None:
    trusted = TrustedHosts("10.0.0.1/8")
    assert "10.0.0.1" not in trusted
    assert "10.0.0.2" not in trusted
    assert "10.0.0.1/8" in trusted


@pytest.mark.parametrize("host", [None, ""])
def test_no_peer_is_never_trusted(host: str | None) -> None:
    assert host not in TrustedHosts("127.0.0.1, ")


@pytest.mark.parametrize(
    ("spec", "forwarded_for", "client"),
    [
        # Nearest hop first: the right-most untrusted entry is the client.
        ("10.0.0.0/8", "1.1.1.1, 2.2.2.2, 10.0.0.5", "2.2.2.2"),
        ("10.0.0.0/8", "1.1.1.1,2.2.2.2", "2.2.2.2"),
        # Every hop trusted: the left-most is the client.
        ("10.0.0.0/8", "10.0.0.1, 10.0.0.2", "10.0.0.1"),
        # Trusting everyone: the left-most, whatever follows.
        ("*", "1.1.1.1, 2.2.2.2", "1.1.1.1"),
        ("127.0.0.1", " 198.51.100.4 ", "198.51.100.4"),
    ],
)
def test_client_from_forwarded_for(spec: str, forwarded_for: str, client: str) -> None:
    assert TrustedHosts(spec).client_host(forwarded_for) == client


# -- ASGI ----------------------------------------------------------------------------------
class ScopeRecorder:
    """An ASGI app that keeps the scope it was called with."""

    def __init__(self) -> None:
        self.scopes: list[dict[str, Any]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.scopes.append(dict(scope))


async def _receive() -> dict[str, Any]:
    return {"type": "http.disconnect"}


async def _send(message: Any) -> None:
    pass


def http_scope(
    headers: Iterable[tuple[bytes, bytes]] = (),
    client: tuple[str, int] | None = ("127.0.0.1", 50000),
    scope_type: str = "http",
) -> dict[str, Any]:
    scheme = "ws" if scope_type == "websocket" else "http"
    return {"type": scope_type, "client": client, "scheme": scheme, "headers": list(headers)}


def run_asgi(scope: dict[str, Any], trusted_hosts: Any = "127.0.0.1") -> dict[str, Any]:
    app = ScopeRecorder()
    asyncio.run(_call(wrap_asgi_with_proxy_headers(app, trusted_hosts), scope))
    (seen,) = app.scopes
    return seen


async def _call(app: Any, scope: dict[str, Any]) -> None:
    await app(scope, _receive, _send)


def test_asgi_trusted_peer_gets_client_and_scheme() -> None:
    scope = run_asgi(
        http_scope([(b"x-forwarded-for", b"203.0.113.7"), (b"x-forwarded-proto", b"https")])
    )
    assert scope["client"] == ("203.0.113.7", 0)
    assert scope["scheme"] == "https"


def test_asgi_untrusted_peer_is_ignored() -> None:
    headers = [(b"x-forwarded-for", b"203.0.113.7"), (b"x-forwarded-proto", b"https")]
    scope = run_asgi(http_scope(headers, client=("192.0.2.1", 40000)))
    assert scope["client"] == ("192.0.2.1", 40000)
    assert scope["scheme"] == "http"


def test_asgi_without_client_is_trusted_by_star_only() -> None:
    # A Unix socket has no peer address: nginx in front of it needs "*", as with Granian.
    headers = [(b"x-forwarded-for", b"203.0.113.7"), (b"x-forwarded-proto", b"https")]
    scope = run_asgi(http_scope(headers, client=None), "*")
    assert (scope["client"], scope["scheme"]) == (("203.0.113.7", 0), "https")
    scope = run_asgi(http_scope(headers, client=None), "127.0.0.1")
    assert (scope["client"], scope["scheme"]) == (None, "http")


def test_asgi_empty_forwarded_for_lines_are_skipped() -> None:
    headers = [(b"x-forwarded-for", b" "), (b"x-forwarded-for", b"203.0.113.7")]
    assert run_asgi(http_scope(headers), "*")["client"] == ("203.0.113.7", 0)


@pytest.mark.parametrize("forwarded_for", [b"", b" ", b"203.0.113.7,"])
def test_asgi_proto_needs_a_client_named(forwarded_for: bytes) -> None:
    # "203.0.113.7,": the hop nearest to us, empty, is the first untrusted one: no one.
    headers = [(b"x-forwarded-for", forwarded_for), (b"x-forwarded-proto", b"https")]
    scope = run_asgi(http_scope(headers))
    assert (scope["client"], scope["scheme"]) == (("127.0.0.1", 50000), "http")


def test_asgi_proto_without_forwarded_for_is_ignored() -> None:
    scope = run_asgi(http_scope([(b"x-forwarded-proto", b"https")]))
    assert scope["client"] == ("127.0.0.1", 50000)
    assert scope["scheme"] == "http"


def test_asgi_unknown_proto_is_ignored() -> None:
    headers = [(b"x-forwarded-for", b"203.0.113.7"), (b"x-forwarded-proto", b"gopher")]
    scope = run_asgi(http_scope(headers))
    assert scope["client"] == ("203.0.113.7", 0)
    assert scope["scheme"] == "http"


def test_asgi_first_non_empty_proto_wins() -> None:
    headers = [
        (b"x-forwarded-proto", b""),
        (b"x-forwarded-for", b"203.0.113.7"),
        (b"x-forwarded-proto", b" https "),
        (b"x-forwarded-proto", b"http"),
    ]
    assert run_asgi(http_scope(headers))["scheme"] == "https"


def test_asgi_repeated_forwarded_for_lines_are_one_list() -> None:
    headers = [(b"x-forwarded-for", b"198.51.100.1"), (b"x-forwarded-for", b"198.51.100.2")]
    assert run_asgi(http_scope(headers))["client"] == ("198.51.100.2", 0)
    trusting_the_second = "127.0.0.1, 198.51.100.2"
    scope = run_asgi(http_scope(headers), trusting_the_second)
    assert scope["client"] == ("198.51.100.1", 0)


def test_asgi_header_values_are_latin_1() -> None:
    scope = run_asgi(http_scope([(b"x-forwarded-for", "caf\xe9".encode("latin-1"))]))
    assert scope["client"] == ("caf\xe9", 0)


@pytest.mark.parametrize(
    ("proto", "scheme"), [("http", "ws"), ("https", "wss"), ("ws", "ws"), ("wss", "wss")]
)
def test_asgi_websocket_scheme(proto: str, scheme: str) -> None:
    headers = [(b"x-forwarded-for", b"203.0.113.7"), (b"x-forwarded-proto", proto.encode())]
    scope = run_asgi(http_scope(headers, scope_type="websocket"))
    assert scope["scheme"] == scheme
    assert scope["client"] == ("203.0.113.7", 0)


@pytest.mark.parametrize("proto", ["ws", "wss", "http", "https"])
def test_asgi_http_scheme_is_taken_as_is(proto: str) -> None:
    headers = [(b"x-forwarded-for", b"203.0.113.7"), (b"x-forwarded-proto", proto.encode())]
    assert run_asgi(http_scope(headers))["scheme"] == proto


def test_asgi_scope_is_changed_in_place() -> None:
    scope = http_scope([(b"x-forwarded-for", b"203.0.113.7")])
    run_asgi(scope)
    assert scope["client"] == ("203.0.113.7", 0)


def test_asgi_lifespan_passes_through() -> None:
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    seen = run_asgi(scope, "*")
    assert seen == {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}


def test_asgi_wrapper_keeps_the_app_identity_and_result() -> None:
    async def my_app(scope: Any, receive: Any, send: Any) -> None:
        """The app's doc."""
        await send("result")

    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    wrapped = wrap_asgi_with_proxy_headers(my_app)
    assert wrapped.__name__ == "my_app"
    assert wrapped.__doc__ == "The app's doc."
    assert wrapped.__wrapped__ is my_app  # type: ignore[attr-defined]
    asyncio.run(_call_with(wrapped, http_scope(), send))
    assert sent == ["result"]


async def _call_with(app: Any, scope: dict[str, Any], send: Any) -> None:
    await app(scope, _receive, send)


# -- WSGI ----------------------------------------------------------------------------------
def run_wsgi(environ: dict[str, Any], trusted_hosts: Any = "127.0.0.1") -> dict[str, Any]:
    seen: list[dict[str, Any]] = []

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        seen.append(dict(environ))
        start_response("200 OK", [])
        return [b"ok"]

    statuses: list[str] = []
    body = wrap_wsgi_with_proxy_headers(app, trusted_hosts)(
        environ, lambda status, headers: statuses.append(status)
    )
    assert list(body) == [b"ok"]
    assert statuses == ["200 OK"]
    return seen[0]


def wsgi_environ(**headers: str) -> dict[str, Any]:
    return {"REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http", **headers}


def test_wsgi_proto_needs_a_client_named() -> None:
    environ = run_wsgi(
        wsgi_environ(HTTP_X_FORWARDED_FOR="203.0.113.7,", HTTP_X_FORWARDED_PROTO="https")
    )
    assert (environ["REMOTE_ADDR"], environ["wsgi.url_scheme"]) == ("127.0.0.1", "http")


def test_wsgi_trusted_peer_gets_client_and_scheme() -> None:
    environ = run_wsgi(
        wsgi_environ(HTTP_X_FORWARDED_FOR="203.0.113.7, 10.0.0.1", HTTP_X_FORWARDED_PROTO="https"),
        "127.0.0.1, 10.0.0.0/8",
    )
    assert environ["REMOTE_ADDR"] == "203.0.113.7"
    assert environ["wsgi.url_scheme"] == "https"


def test_wsgi_untrusted_peer_is_ignored() -> None:
    environ = wsgi_environ(HTTP_X_FORWARDED_FOR="203.0.113.7", HTTP_X_FORWARDED_PROTO="https")
    environ["REMOTE_ADDR"] = "192.0.2.1"
    seen = run_wsgi(environ)
    assert seen["REMOTE_ADDR"] == "192.0.2.1"
    assert seen["wsgi.url_scheme"] == "http"


def test_wsgi_proto_without_forwarded_for_is_ignored() -> None:
    seen = run_wsgi(wsgi_environ(HTTP_X_FORWARDED_PROTO="https"))
    assert seen["REMOTE_ADDR"] == "127.0.0.1"
    assert seen["wsgi.url_scheme"] == "http"


@pytest.mark.parametrize("proto", ["ws", "wss", "ftp", ""])
def test_wsgi_only_http_and_https_schemes(proto: str) -> None:
    seen = run_wsgi(wsgi_environ(HTTP_X_FORWARDED_FOR="203.0.113.7", HTTP_X_FORWARDED_PROTO=proto))
    assert seen["REMOTE_ADDR"] == "203.0.113.7"
    assert seen["wsgi.url_scheme"] == "http"


def test_wsgi_trust_all_takes_the_left_most() -> None:
    seen = run_wsgi(wsgi_environ(HTTP_X_FORWARDED_FOR="198.51.100.1,198.51.100.2"), "*")
    assert seen["REMOTE_ADDR"] == "198.51.100.1"


def test_wsgi_wrapper_keeps_the_app_identity() -> None:
    def my_wsgi_app(environ: Any, start_response: Any) -> list[bytes]:
        """WSGI doc."""
        return []

    wrapped = wrap_wsgi_with_proxy_headers(my_wsgi_app, ["127.0.0.1"])
    assert wrapped.__name__ == "my_wsgi_app"
    assert wrapped.__doc__ == "WSGI doc."
    assert wrapped.__wrapped__ is my_wsgi_app  # type: ignore[attr-defined]


# -- through the real server ---------------------------------------------------------------
async def echo_client(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        return
    body = json.dumps({"client": list(scope["client"]), "scheme": scope["scheme"]}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def test_asgi_wrapper_behind_the_real_server(serve: Callable[..., Any]) -> None:
    app = wrap_asgi_with_proxy_headers(echo_client, trusted_hosts="127.0.0.1")
    forwarded = {"x-forwarded-for": "203.0.113.7, 127.0.0.1", "x-forwarded-proto": "https"}
    with (
        serve(app, interface="asgi") as srv,
        httpx.Client(base_url=srv.url, timeout=WAIT) as client,
    ):
        relayed = client.get("/", headers=forwarded).json()
        direct = client.get("/").json()
    assert relayed == {"client": ["203.0.113.7", 0], "scheme": "https"}
    assert direct["client"][0] == "127.0.0.1"
    assert direct["client"][1] > 0
    assert direct["scheme"] == "http"
