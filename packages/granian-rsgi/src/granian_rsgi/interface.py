"""``RSGIInterface``: the ``rsgi`` entry of ``granian.interfaces``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, cast

from granian_core.interface import Interface, WorkerContext

from .protocol import RSGIApp, run_http
from .websocket import RSGIWebsocketApp, run_websocket

if TYPE_CHECKING:
    from granian_core.exchange import HTTPExchange
    from granian_core.websocket import WebSocketSession

__all__ = ["RSGIInterface"]


class RSGIInterface(Interface):
    """Serves an RSGI 1.6 application: ``app(scope, protocol)`` or ``app.__rsgi__``."""

    supports_websockets = True

    def __init__(self, app: Any, context: WorkerContext) -> None:
        super().__init__(app, context)
        # Resolved once: an app speaking several protocols exposes RSGI as __rsgi__.
        self._callable: RSGIApp = app.__rsgi__ if hasattr(app, "__rsgi__") else app

    def setup(self, loop: asyncio.AbstractEventLoop) -> None:
        init = getattr(self.app, "__rsgi_init__", None)
        if init is not None:
            init(loop)

    def teardown(self, loop: asyncio.AbstractEventLoop) -> None:
        cleanup = getattr(self.app, "__rsgi_del__", None)
        if cleanup is not None:
            cleanup(loop)

    def handle_http(self, exchange: HTTPExchange) -> Awaitable[None]:
        return run_http(self._callable, exchange)

    def handle_websocket(self, session: WebSocketSession) -> Awaitable[None]:
        app = cast(RSGIWebsocketApp, self._callable)
        return run_websocket(app, session)
