"""The loop registry (`granian.loops`) and listening on IPv4, IPv6 and with each loop."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from granian import loops as granian_loops
from granian_core.loops import BuilderRegistry, loops

from .apps.scheme_asgi import app as scheme_app


def test_granian_exposes_the_core_registry() -> None:
    assert granian_loops is loops
    assert {"auto", "asyncio", "uvloop"} <= set(loops.keys())


def test_auto_prefers_uvloop_when_installed() -> None:
    import uvloop

    loop = loops.get("auto")
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()


def test_unknown_key_is_a_runtime_error() -> None:
    with pytest.raises(RuntimeError, match="'nope' implementation not available."):
        loops.get("nope")


def test_register_overrides_and_passes_packages() -> None:
    registry = BuilderRegistry()
    seen: dict[str, Any] = {}

    @registry.register("custom", packages=["asyncio"])
    def build(asyncio: Any) -> asyncio.AbstractEventLoop:
        seen["module"] = asyncio
        return asyncio.new_event_loop()

    loop = registry.get("custom")
    loop.close()
    assert seen["module"] is asyncio
    assert "custom" in registry


def test_register_skips_builders_whose_packages_are_missing() -> None:
    registry = BuilderRegistry()

    @registry.register("missing", packages=["no_such_package_here"])
    def build(**_: Any) -> asyncio.AbstractEventLoop:
        raise AssertionError("never called")

    assert "missing" not in registry


@pytest.mark.parametrize("loop_name", ["asyncio", "uvloop"])
def test_serves_on_each_loop(serve: Callable[..., Any], loop_name: str) -> None:
    with serve(scheme_app, interface="asgi", loop=loop_name) as srv:
        assert httpx.get(srv.url, timeout=10).json()["scheme"] == "http"


def test_serves_on_ipv6_loopback(serve: Callable[..., Any]) -> None:
    if not socket.has_ipv6:
        raise AssertionError("this machine has no IPv6 support")
    with serve(scheme_app, interface="asgi", address="::1") as srv:
        port = srv.server.port
        assert srv.server.bound == [f"http://[::1]:{port}"]
        response = httpx.get(f"http://[::1]:{port}/", timeout=10)
    assert response.json() == {"scheme": "http", "http_version": "1.1"}


H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


@pytest.mark.parametrize(("mode", "speaks_h2"), [("1", False), ("auto", True), ("2", True)])
def test_cleartext_prior_knowledge_per_http_mode(
    serve: Callable[..., Any], mode: str, speaks_h2: bool
) -> None:
    """`--http 1` never speaks h2; `auto` and `2` answer a prior-knowledge client."""
    with serve(scheme_app, interface="asgi", http=mode) as srv:
        with httpx.Client(http1=False, http2=True, timeout=10) as client:
            if speaks_h2:
                response = client.get(srv.url)
                assert response.http_version == "HTTP/2"
                assert response.json() == {"scheme": "http", "http_version": "2"}
            else:
                with pytest.raises(httpx.HTTPError):
                    client.get(srv.url)
        if mode != "2":
            assert httpx.get(srv.url, timeout=10).http_version == "HTTP/1.1"
        with socket.create_connection((srv.host, srv.port), timeout=10) as raw:
            raw.sendall(H2_PREFACE)
            first = raw.recv(9)
        if speaks_h2:
            assert first[3] == 0x4  # a SETTINGS frame: the server speaks h2
        else:
            assert first.startswith(b"HTTP/1.1 ")  # an HTTP/1 error answer, never h2
