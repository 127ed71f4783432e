"""The ``asgi`` and ``asginl`` interfaces: ASGI 3 apps served by granian-core."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, ClassVar

from granian_core.exchange import HTTPExchange
from granian_core.interface import Interface, WorkerContext
from granian_core.websocket import WebSocketSession

from .http import HTTPCycle
from .lifespan import Lifespan
from .scope import HTTPScopeFactory
from .websocket import WebSocketCycle

__all__ = ["ASGIInterface", "ASGINoLifespanInterface"]


class ASGIInterface(Interface):
    """An ASGI 3 app with the lifespan protocol (``--interface asgi``)."""

    #: ``asginl`` turns this off: the app never sees a ``lifespan`` scope.
    lifespan_enabled: ClassVar[bool] = True
    supports_websockets = True

    def __init__(self, app: Any, context: WorkerContext) -> None:
        super().__init__(app, context)
        #: The lifespan ``state``; each request scope gets a shallow copy.
        self.state: dict[str, Any] = {}
        scopes = HTTPScopeFactory(context.config.url_path_prefix or "")
        self._build_scope = scopes.build
        self._build_websocket_scope = scopes.build_websocket
        self._lifespan: Lifespan | None = None

    async def startup(self) -> None:
        if self.lifespan_enabled:
            self._lifespan = Lifespan(self.app, self.state)
            await self._lifespan.startup()

    async def shutdown(self) -> None:
        if self._lifespan is not None:
            await self._lifespan.shutdown()

    def handle_http(self, exchange: HTTPExchange) -> Awaitable[None]:
        # Return the app's own coroutine: no wrapper frame per request.
        cycle = HTTPCycle(exchange)
        scope = self._build_scope(exchange, self.state)
        result: Awaitable[None] = self.app(scope, cycle.receive, cycle.send)
        return result

    def handle_websocket(self, session: WebSocketSession) -> Awaitable[None]:
        cycle = WebSocketCycle(session)
        scope = self._build_websocket_scope(session, self.state)
        return _run_websocket(self.app(scope, cycle.receive, cycle.send), cycle)


class ASGINoLifespanInterface(ASGIInterface):
    """An ASGI 3 app without the lifespan protocol (``--interface asginl``)."""

    lifespan_enabled = False


async def _run_websocket(app_call: Awaitable[None], cycle: WebSocketCycle) -> None:
    """The app's WebSocket call, then the check of what it left (once per session)."""
    await app_call
    cycle.check_finished()
