"""``WSGIInterface``: the ``wsgi`` entry of ``granian.interfaces``."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from granian_core.exchange import ClientDisconnected
from granian_core.interface import Interface, WorkerContext

from .body_feed import BodyFeed
from .call import WSGICall
from .environ import EnvironBuilder
from .response import content_length

if TYPE_CHECKING:
    from granian_core.exchange import HTTPExchange

__all__ = ["PREFETCH_LIMIT", "WSGIInterface"]

#: Request bodies announced (Content-Length) up to this size are read before the app runs.
PREFETCH_LIMIT = 64 * 1024


class WSGIInterface(Interface):
    """Serves a PEP 3333 application on the worker's pool of blocking threads.

    A request whose body is empty, or has wholly arrived with its head, is handed
    to a pool thread at once (``start_http``): no task. Any other gets a small
    coroutine (``handle_http``) that reads or feeds the body while the thread runs.
    Either way ``WSGICall.settle`` turns the thread's outcome into the response on
    the loop as it arrives.
    """

    blocking = True
    supports_websockets = False

    def __init__(self, app: Any, context: WorkerContext) -> None:
        super().__init__(app, context)
        config = context.config
        self._environ = EnvironBuilder(config.url_path_prefix, config.workers > 1)
        self._loop = context.loop
        self._pool = context.blocking_pool
        #: Tasks sending file responses (kept referenced until sent).
        self._file_sends: set[asyncio.Task[None]] = set()

    def start_http(self, exchange: HTTPExchange) -> asyncio.Future[None] | None:
        body = None
        if not exchange.body_complete:
            body = exchange.take_received_body()
            if body is None:
                return None  # the body is still arriving: handle_http waits for it
        return self._call_app(WSGICall(exchange, self._loop, self._file_sends), body, None)

    def _call_app(
        self, call: WSGICall, body: bytes | None, feed: BodyFeed | None
    ) -> asyncio.Future[None]:
        """Run the app on a pool thread; the future completes once the response is sent."""
        done = self._loop.create_future()
        self._pool.submit(
            done, call.run, (self.app, self._environ, body, feed), call.settle, call.fail
        )
        return done

    async def handle_http(self, exchange: HTTPExchange) -> None:
        call = WSGICall(exchange, self._loop, self._file_sends)
        body = feed = None
        if not exchange.body_complete:
            length = content_length(exchange.headers)
            if length is not None and length <= PREFETCH_LIMIT:
                # Read here, on the loop: the app's reads then never wait for a thread hop,
                # and no pool thread is held while a small upload arrives.
                try:
                    body = await exchange.read_body()
                except ClientDisconnected:
                    return  # nobody is left to answer
            else:
                feed = BodyFeed(exchange, self._loop)
        try:
            await self._call_app(call, body, feed)
        except asyncio.CancelledError:
            call.abort()
            raise
        finally:
            if feed is not None:
                feed.stop()
