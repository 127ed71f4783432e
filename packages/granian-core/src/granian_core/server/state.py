"""Per-worker state shared by every connection, and the one place handlers run.

``WorkerState.dispatch`` runs ``Interface.handle_http`` for an exchange as a
task (or follows the future ``Interface.start_http`` returned), keeps at most
``--backpressure`` of them in flight (later ones wait in FIFO order and the
accept loop pauses), turns failures into 500s or dropped connections, and
writes the access log line. HTTP/1 and HTTP/2 protocols both
call it, so these rules hold for every protocol and interface alike.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import sys
import time
from collections import deque
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from email.utils import formatdate
from functools import partial
from typing import IO, TYPE_CHECKING, Any

from granian_core.coalesce import WriteCoalescer
from granian_core.interface import Interface as InterfaceBase
from granian_core.websocket import WebSocketSession

from .metrics import WorkerMetrics

if TYPE_CHECKING:
    from granian_core.config import ServerConfig
    from granian_core.exchange import HTTPExchange
    from granian_core.interface import Interface
    from granian_core.log import AccessLogger
    from granian_core.ws.session import CoreSession

__all__ = ["WorkerState"]

logger = logging.getLogger("_granian")

#: The 500 answered when an app fails before responding (HTTP and WebSocket alike).
ERROR_HEADERS = [(b"content-type", b"text/plain; charset=utf-8")]
ERROR_BODY = b"Internal server error"
#: File reads up to this size run on the loop; larger ones on the I/O threads.
INLINE_READ_LIMIT = 64 * 1024

_Handler = Coroutine[Any, Any, None]


if sys.version_info >= (3, 11):

    def _new_task(
        loop: asyncio.AbstractEventLoop, coro: _Handler, context: contextvars.Context
    ) -> asyncio.Task[None]:
        return loop.create_task(coro, context=context)

else:

    def _new_task(
        loop: asyncio.AbstractEventLoop, coro: _Handler, context: contextvars.Context
    ) -> asyncio.Task[None]:
        return context.run(loop.create_task, coro)  # the task copies the current context


#: 3.12+: a task whose first step runs now, as the current task (``eager_start``).
_eager_task: (
    Callable[[_Handler, asyncio.AbstractEventLoop, contextvars.Context], asyncio.Task[None]] | None
)
_eager_task = None
if sys.version_info >= (3, 12):

    def _start_eagerly(
        coro: _Handler, loop: asyncio.AbstractEventLoop, context: contextvars.Context
    ) -> asyncio.Task[None]:
        return asyncio.Task(coro, loop=loop, context=context, eager_start=True)

    _eager_task = _start_eagerly


class WorkerState:
    """What every connection protocol of a worker shares."""

    def __init__(
        self,
        config: ServerConfig,
        interface: Interface,
        loop: asyncio.AbstractEventLoop,
        access_logger: AccessLogger | None = None,
    ) -> None:
        self.config = config
        self.interface = interface
        self.loop = loop
        self.connections: set[Any] = set()
        #: Small writes of every connection leave together, once per loop pass.
        self.coalescer = WriteCoalescer(loop)
        #: Always counted (one int increment each); exported only with --metrics.
        self.metrics = WorkerMetrics()
        self.stopping = False
        self.server_header = b"server: granian\r\n"
        self.date_header = b""
        self._access_logger = access_logger
        self._handle_http = interface.handle_http
        # Imported here, once: ws.dispatch imports this module, and an import statement
        # in _run_session cost about 1 µs per session.
        from granian_core.ws.dispatch import run_session

        self._run_ws_session = run_session
        #: The adapter's task-less start, if it overrides ``Interface.start_http``.
        self._start_http = (
            interface.start_http
            if type(interface).start_http is not InterfaceBase.start_http
            else None
        )
        self._limit = config.resolved_backpressure()
        self._in_flight = 0
        self._waiting: deque[HTTPExchange | CoreSession] = deque()
        #: Running handlers: tasks, and the futures of ``start_http``.
        self._tasks: set[asyncio.Future[None]] = set()
        #: What every handler's context is a copy of: the worker's, never a handler's (a
        #: request started when another ends would otherwise inherit that one's variables).
        self._context = contextvars.copy_context()
        #: A handler is taking its eager first step (see ``_start``).
        self._stepping = False
        self._date_timer: asyncio.TimerHandle | None = None
        self._io_executor: ThreadPoolExecutor | None = None
        #: Called with True when the worker is saturated (stop accepting), False when not.
        self.on_saturation: Callable[[bool], None] = _ignore
        self._refresh_date()

    # -- the date header, refreshed once a second -----------------------------------
    def _refresh_date(self) -> None:
        now = time.time()
        self.date_header = b"date: " + formatdate(now, usegmt=True).encode() + b"\r\n"
        self._date_timer = self.loop.call_later(1.0 - (now % 1.0), self._refresh_date)

    def close(self) -> None:
        if self._date_timer is not None:
            self._date_timer.cancel()
            self._date_timer = None
        if self._io_executor is not None:
            self._io_executor.shutdown(wait=False)
            self._io_executor = None

    # -- blocking file I/O off the loop (--runtime-blocking-threads) ----------------------
    @property
    def io_executor(self) -> ThreadPoolExecutor:
        """Threads for blocking I/O of the protocols (file reads for file responses).

        Granian runs such I/O on its Rust runtime's blocking threads; here they are a
        thread pool of ``--runtime-blocking-threads`` (default: Python's own default size).
        """
        if self._io_executor is None:
            self._io_executor = ThreadPoolExecutor(
                max_workers=self.config.runtime_blocking_threads,
                thread_name_prefix="granian-io",
            )
        return self._io_executor

    async def read_file(self, file: IO[bytes], size: int) -> bytes:
        """Read up to ``size`` bytes of ``file``: small reads inline, larger on an I/O thread.

        A thread hop costs more than reading a few page-cached KiB (it halved the
        50 KiB file benchmark), so only reads above ``INLINE_READ_LIMIT`` leave the loop.
        """
        if size <= INLINE_READ_LIMIT:
            return file.read(size)
        return await self.loop.run_in_executor(self.io_executor, file.read, size)

    # -- running handlers ---------------------------------------------------------------
    @property
    def in_flight(self) -> int:
        return self._in_flight

    def dispatch(self, exchange: HTTPExchange) -> None:
        """Run the interface's handler for ``exchange`` once a backpressure slot is free."""
        if self._in_flight >= self._limit:
            self._waiting.append(exchange)
            return
        self._start(exchange)

    def dispatch_session(self, session: CoreSession) -> None:
        """Run ``handle_websocket`` for ``session`` in a backpressure slot, like ``dispatch``.

        The handler and its failure rules live in ``granian_core.ws.dispatch``.
        """
        if self._in_flight >= self._limit:
            self._waiting.append(session)
            return
        self._start_session(session)

    def _start_session(self, session: CoreSession) -> None:
        self._in_flight += 1
        if self._in_flight == self._limit:
            self.on_saturation(True)
        task = _new_task(self.loop, self._run_session(session), self._context.copy())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_session(self, session: CoreSession) -> None:
        try:
            await self._run_ws_session(self.interface, session, self._access_logger)
        finally:
            self.metrics.requests_handled += 1
            self._release()

    def _start(self, exchange: HTTPExchange) -> None:
        self._in_flight += 1
        if self._in_flight == self._limit:
            self.on_saturation(True)
        if self._start_http is not None and self._start_directly(exchange):
            return
        coro = self._run(exchange)
        context = self._context.copy()
        if _eager_task is None or self._stepping:
            task = _new_task(self.loop, coro, context)
        else:
            # The handler's first step runs here rather than one loop pass later; a
            # handler that never waits is over before the task is returned. Only one
            # level deep: the next pipelined request, started when this response ends,
            # gets a scheduled task, so the stack stays bounded.
            self._stepping = True
            try:
                task = _eager_task(coro, self.loop, context)
            finally:
                self._stepping = False
            if task.done():
                return
        # The set keeps each task alive; _run removes its own task when done, which saves
        # the loop a done-callback (one more scheduled handle) per request.
        self._tasks.add(task)

    def _start_directly(self, exchange: HTTPExchange) -> bool:
        """Try the adapter's ``start_http``; False if it left the request to a task."""
        assert self._start_http is not None
        started = time.time() if self._access_logger is not None else 0.0
        try:
            future = self._start_http(exchange)
        except Exception:
            logger.exception("Application callable raised an exception")
            _finish_after_failure(exchange)
            self._finished(exchange, started)
            return True
        if future is None:
            return False
        self._tasks.add(future)
        future.add_done_callback(partial(self._on_started_done, exchange, started))
        return True

    def _on_started_done(
        self, exchange: HTTPExchange, started: float, future: asyncio.Future[None]
    ) -> None:
        """The rules of ``_run``, for a handler that ran without a task."""
        self._tasks.discard(future)
        if future.cancelled():
            exchange.abort()
        else:
            exc = future.exception()
            if exc is None:
                _finish_after_return(exchange)
            else:
                logger.error("Application callable raised an exception", exc_info=exc)
                _finish_after_failure(exchange)
        self._finished(exchange, started)

    def _release(self) -> None:
        self._in_flight -= 1
        self._after_release()

    def _after_release(self) -> None:
        """A slot was freed: start the oldest live waiter, or leave saturation."""
        while self._waiting:
            waiting = self._waiting.popleft()
            if not waiting.disconnected:
                if isinstance(waiting, WebSocketSession):
                    self._start_session(waiting)
                else:
                    self._start(waiting)
                return
        if self._in_flight == self._limit - 1:
            self.on_saturation(False)

    async def _run(self, exchange: HTTPExchange) -> None:
        started = time.time() if self._access_logger is not None else 0.0
        try:
            await self._handle_http(exchange)
        except Exception:
            logger.exception("Application callable raised an exception")
            _finish_after_failure(exchange)
        except asyncio.CancelledError:
            exchange.abort()
            raise
        else:
            _finish_after_return(exchange)
        finally:
            self._tasks.discard(asyncio.current_task(self.loop))
            self._finished(exchange, started)

    def _finished(self, exchange: HTTPExchange, started: float) -> None:
        """A handler is over: count it, free its slot, log it."""
        self.metrics.requests_handled += 1
        self._in_flight -= 1
        if self._waiting or self._in_flight == self._limit - 1:
            self._after_release()
        if self._access_logger is not None:
            status = exchange.status or 500
            self._access_logger.log(exchange, started, time.time() - started, status)

    async def wait_handlers(self) -> None:
        """Wait until every running handler has finished (graceful shutdown)."""
        while self._tasks:
            await asyncio.wait(list(self._tasks))

    def cancel_handlers(self) -> None:
        for task in list(self._tasks):
            task.cancel()


def _finish_after_failure(exchange: HTTPExchange) -> None:
    if not exchange.response_started:
        exchange.send_response(500, list(ERROR_HEADERS), ERROR_BODY)
    elif not exchange.response_complete:
        exchange.abort()


def _finish_after_return(exchange: HTTPExchange) -> None:
    if not exchange.response_started:
        if not exchange.disconnected:  # else nobody is waiting: nothing to report
            logger.error("Application callable returned without sending a response")
        exchange.send_response(500, list(ERROR_HEADERS), ERROR_BODY)  # as for a failure
    elif not exchange.response_complete:
        # The adapter left the body unfinished: the client must not mistake it for whole.
        if not exchange.disconnected:
            logger.error("Application callable returned without completing its response")
        exchange.abort()


def _ignore(_: bool) -> None:
    pass
