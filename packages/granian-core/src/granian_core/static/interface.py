"""``StaticFilesInterface``: answers static routes, delegates everything else.

It is installed by ``build_interface`` only when mounts are configured. Static
requests run inside ``WorkerState.dispatch`` like any other, so backpressure and
the access log apply to them too (Granian leaves them out of its access log).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable
from typing import TYPE_CHECKING

from granian_core.interface import Interface

from .files import StaticFiles

if TYPE_CHECKING:
    from granian_core.config import ServerConfig
    from granian_core.exchange import HTTPExchange
    from granian_core.websocket import WebSocketSession

__all__ = ["StaticFilesInterface", "with_static_files"]


class StaticFilesInterface(Interface):
    """The wrapped interface, with the static routes checked before its ``handle_http``."""

    def __init__(self, inner: Interface, files: StaticFiles) -> None:
        super().__init__(inner.app, inner.context)
        self.inner = inner
        self.files = files
        # Bound once: every request of the worker goes through handle_http.
        self._match = files.match
        self._serve = files.serve
        self._inner_http = inner.handle_http

    def setup(self, loop: asyncio.AbstractEventLoop) -> None:
        self.inner.setup(loop)

    async def startup(self) -> None:
        await self.inner.startup()

    async def shutdown(self) -> None:
        await self.inner.shutdown()

    def teardown(self, loop: asyncio.AbstractEventLoop) -> None:
        self.inner.teardown(loop)

    def handle_http(self, exchange: HTTPExchange) -> Awaitable[None]:
        found = self._match(exchange.raw_path)
        if found is None:
            return self._inner_http(exchange)
        return self._serve(exchange, *found)

    def handle_websocket(self, session: WebSocketSession) -> Awaitable[None]:
        return self.inner.handle_websocket(session)

    def _start_inner(self, exchange: HTTPExchange) -> asyncio.Future[None] | None:
        """``start_http`` of a wrapper whose inner interface has one: the app's routes only."""
        if self._match(exchange.raw_path) is not None:
            return None  # a static route: handle_http serves it
        return self.inner.start_http(exchange)


def with_static_files(interface: Interface, config: ServerConfig) -> Interface:
    """``interface`` wrapped in the static routes of ``config``; unchanged without mounts."""
    files = StaticFiles.from_config(config)
    if files is None:
        return interface
    return _wrapper_class(type(interface))(interface, files)


@functools.cache
def _wrapper_class(inner_cls: type[Interface]) -> type[StaticFilesInterface]:
    """A wrapper subclass that repeats the wrapped class's flags (they are class variables),
    and its ``start_http`` if it has one."""
    namespace: dict[str, object] = {
        "supports_websockets": inner_cls.supports_websockets,
        "blocking": inner_cls.blocking,
    }
    if inner_cls.start_http is not Interface.start_http:
        # Only then: the core calls start_http for every request if a class defines it.
        namespace["start_http"] = StaticFilesInterface._start_inner
    return type(f"StaticFiles{inner_cls.__name__}", (StaticFilesInterface,), namespace)
