"""``BodyFeed``: a streamed request body, read on the loop ahead of the app's thread.

The app's thread takes chunks from a queue; a small task on the loop fills it,
at most ``READ_AHEAD`` chunks ahead. A thread that reads as fast as the client
sends thus never waits for a loop round trip, and the loop is woken by the thread
only when the feed had stopped at its window and the thread drained it to half.
Memory stays bounded (a few chunks), and the protocol's read flow control
applies as before once the feed stops reading.

The feed starts on the thread's first read, so ``Expect: 100-continue`` is
answered only when the app reads the body, and ends with the request
(``stop``): a thread still waiting then sees a disconnect.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from typing import TYPE_CHECKING

from granian_core.exchange import ClientDisconnected

if TYPE_CHECKING:
    from granian_core.exchange import HTTPExchange

__all__ = ["BodyFeed"]

#: Chunks the loop may read before the app's thread takes them.
READ_AHEAD = 4
#: The end of the body, as queued for the thread.
_END = b""


class BodyFeed:
    """One request body on its way from the loop to one app thread."""

    __slots__ = (
        "_chunks",
        "_exchange",
        "_lock",
        "_loop",
        "_requested",
        "_resume",
        "_stopped",
        "_task",
        "_unread",
    )

    def __init__(self, exchange: HTTPExchange, loop: asyncio.AbstractEventLoop) -> None:
        self._exchange = exchange
        self._loop = loop
        self._chunks: queue.SimpleQueue[bytes | ClientDisconnected] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._unread = 0  # data chunks queued and not taken yet
        #: Set while the loop waits for the thread to drain the window.
        self._resume: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopped = False
        self._requested = False  # the thread asked the loop to start reading

    # -- the app's thread ------------------------------------------------------------------
    def take(self) -> bytes:
        """The next chunk; ``b""`` at the end. Raises ``ClientDisconnected``."""
        if not self._requested:
            self._requested = True
            self._loop.call_soon_threadsafe(self._start)
        item = self._chunks.get()
        if item.__class__ is not bytes:
            self._chunks.put(item)  # every later read fails the same way
            assert isinstance(item, ClientDisconnected)
            raise item
        assert isinstance(item, bytes)
        if not item:
            self._chunks.put(_END)
            return item
        with self._lock:
            self._unread -= 1
            resume = self._resume
            if resume is not None and self._unread <= READ_AHEAD // 2:
                self._resume = None
            else:
                resume = None
        if resume is not None:
            self._loop.call_soon_threadsafe(_wake, resume)
        return item

    # -- the loop ------------------------------------------------------------------------
    def stop(self) -> None:
        """The request is over: stop reading, and release a thread still waiting."""
        if self._stopped:
            return
        self._stopped = True
        if self._task is not None:
            self._task.cancel()
        self._chunks.put(ClientDisconnected("the request is over"))

    def _start(self) -> None:
        if self._task is None and not self._stopped:
            self._task = self._loop.create_task(self._pump())

    async def _pump(self) -> None:
        exchange = self._exchange
        chunks = self._chunks
        try:
            while not exchange.body_complete:
                chunk = await exchange.receive()
                if chunk:
                    chunks.put(chunk)
                    await self._after_put()
        except ClientDisconnected as exc:
            chunks.put(exc)
        else:
            chunks.put(_END)

    async def _after_put(self) -> None:
        """Count the queued chunk; wait while the thread is a whole window behind."""
        with self._lock:
            self._unread += 1
            if self._unread < READ_AHEAD:
                return
            resume = self._resume = self._loop.create_future()
        await resume


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
