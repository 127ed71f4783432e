"""A pool of blocking threads that run synchronous calls for the event loop.

``BlockingPool.run(fn, *args)`` is called on the event loop thread and returns
an ``asyncio.Future`` resolved with ``fn(*args)``'s result or exception. Threads
are spawned on demand, up to ``max_threads``; a thread that stays idle for
``idle_timeout`` seconds exits. Work that finds every thread busy waits in FIFO
order.

Work waits in one FIFO backlog. While every thread is busy, each queued call
that no woken thread is coming for spawns a thread (up to ``max_threads``).
Otherwise at most one parked thread at a time is *searching* (woken, not yet
holding work): new work wakes a parked thread only when none is searching, and a
thread that takes work while more is queued wakes the next.
A burst of short calls is thus served by the threads already running instead of
waking one thread per call (on one core, under the GIL, every extra runnable
thread costs context switches), while calls that block still fan out across
threads one after the other. Idle threads park on a LIFO stack, each on its own
``SimpleQueue``: the most recently parked thread is woken first, so under light
load the same few threads stay warm while the others reach their idle timeout.

Threads are woken once per loop pass, not once per call: ``run`` queues the work
and schedules one wake-up for the pass (``call_soon``); ``shutdown`` does a pending
one at once. A thread woken by the first call of a burst would ask for the GIL
while the loop thread still handles the rest of the burst, and the two would trade
it back and forth; woken after the burst, it finds the loop thread about to poll.
WSGI hello, 64 connections, medians of six alternating runs: 30.8k → 34.6k req/s
(+12%).

Outcomes go back through a per-loop mailbox: a thread that finds the mailbox
already scheduled for delivery just appends to it, so a burst of completions
costs the loop one wake-up instead of one per call.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["BlockingPool"]

T = TypeVar("T")

#: Sets a future's result or exception, on its loop.
_Setter = Callable[["asyncio.Future[Any]", Any], None]


class _Mailbox:
    """Outcomes of pool calls for one event loop, delivered in batches."""

    __slots__ = ("_items", "_lock", "_scheduled", "loop", "wake_pending")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._lock = threading.Lock()
        self._items: list[tuple[_Setter, asyncio.Future[Any], Any]] = []
        self._scheduled = False
        #: A wake-up of the pool's threads is scheduled on this loop (loop thread only).
        self.wake_pending = False

    def post(self, setter: _Setter, future: asyncio.Future[Any], value: Any) -> None:
        """Called on a pool thread: queue an outcome, waking the loop only if needed."""
        with self._lock:
            self._items.append((setter, future, value))
            if self._scheduled:
                return
            self._scheduled = True
        # A closed loop raises RuntimeError: nobody is waiting any more.
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self._deliver)

    def _deliver(self) -> None:
        with self._lock:
            items, self._items = self._items, []
            self._scheduled = False
        for setter, future, value in items:
            setter(future, value)


#: One unit of work: the future it belongs to, its loop's mailbox, the callable, its
#: arguments, and what the loop calls with the result or with the exception.
_Work = tuple[
    "asyncio.Future[Any]", _Mailbox, Callable[..., Any], tuple[Any, ...], _Setter, _Setter
]

#: Put in a parked thread's inbox to make it exit (shutdown).
_STOP = None
#: Put in a parked thread's inbox to make it look for work in the backlog.
_WAKE = True


class BlockingPool:
    """Run blocking callables on a bounded set of on-demand daemon threads."""

    def __init__(self, max_threads: int, idle_timeout: float) -> None:
        if max_threads < 1:
            raise ValueError("max_threads must be >= 1")
        self.max_threads = max_threads
        self.idle_timeout = idle_timeout
        self._lock = threading.Lock()
        self._backlog: deque[_Work] = deque()
        self._parked: list[_Thread] = []
        self._threads: set[_Thread] = set()
        #: Threads woken or spawned that have not taken work yet (at most one, but for races).
        self._searching = 0
        self._names = itertools.count(1)
        self._closed = False
        # A worker's pool serves one loop. Callers on another loop get a fresh mailbox;
        # the old one lives on only as long as the work items that point to it.
        self._mailbox: _Mailbox | None = None
        #: Seconds threads spent running calls, and parked waiting for one (--metrics).
        self.busy_seconds = 0.0
        self.idle_seconds = 0.0

    # -- observability (metrics, tests) --------------------------------------------------
    @property
    def threads(self) -> int:
        """Threads alive (busy or idle)."""
        return len(self._threads)

    @property
    def idle(self) -> int:
        """Threads waiting for work."""
        return len(self._parked)

    @property
    def queued(self) -> int:
        """Work items waiting for a free thread."""
        return len(self._backlog)

    # -- the event loop side -------------------------------------------------------------
    def run(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """Schedule ``fn(*args)`` on a pool thread; await the returned future for its outcome."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self.submit(future, fn, args, _resolve, _reject)
        return future

    def submit(
        self,
        future: asyncio.Future[Any],
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        on_result: _Setter,
        on_error: _Setter,
    ) -> None:
        """``run`` for callers that settle ``future`` themselves (on the running loop).

        On the loop, ``on_result(future, result)`` or ``on_error(future, exception)``
        is called with the outcome of ``fn(*args)``; nothing is called if ``future``
        was cancelled before the call started (the call is then skipped).
        """
        loop = asyncio.get_running_loop()
        mailbox = self._mailbox
        if mailbox is None or mailbox.loop is not loop:
            mailbox = self._mailbox = _Mailbox(loop)
        with self._lock:
            if self._closed:
                raise RuntimeError("the blocking pool is shut down")
            self._backlog.append((future, mailbox, fn, args, on_result, on_error))
        if not mailbox.wake_pending:
            mailbox.wake_pending = True
            loop.call_soon(self._wake, mailbox)

    def shutdown(self, wait: bool = True) -> None:
        """Stop accepting work; threads exit once the queued work is done.

        With ``wait`` the call blocks until every thread has exited.
        """
        with self._lock:
            self._closed = True
            self._wake_for_backlog()  # work queued in this loop pass still runs
            parked, self._parked = self._parked, []
            threads = list(self._threads)
        for idle in parked:
            idle.inbox.put(_STOP)
        if wait:
            current = threading.current_thread()
            for thread in threads:
                if thread is not current:
                    thread.join()

    def _wake(self, mailbox: _Mailbox) -> None:
        """Once per loop pass with new work: wake or spawn the threads to take it."""
        mailbox.wake_pending = False
        with self._lock:
            self._wake_for_backlog()

    def _wake_for_backlog(self) -> None:
        # Called with the lock held.
        queued = len(self._backlog)
        if not queued:
            return
        if self._parked:
            if not self._searching:
                self._add_searcher()
            return
        # Every thread is busy: one more thread per queued call nobody comes for yet,
        # as far as allowed (calls that block fan out across threads).
        spawn = min(queued - self._searching, self.max_threads - len(self._threads))
        for _ in range(spawn):
            self._spawn()

    # -- the pool thread side ------------------------------------------------------------
    def _add_searcher(self) -> None:
        """Wake a parked thread, else spawn one (within the maximum), to take queued work."""
        # Called with the lock held.
        if self._parked:
            self._searching += 1
            self._parked.pop().inbox.put(_WAKE)
        elif len(self._threads) < self.max_threads:
            self._spawn()

    def _spawn(self) -> None:
        # Called with the lock held. A new thread starts by searching the backlog.
        self._searching += 1
        thread = _Thread(self, f"granian-blocking-{next(self._names)}")
        self._threads.add(thread)
        thread.start()

    def _take_or_park(
        self, thread: _Thread, searching: bool, busy: float = 0.0, idle: float = 0.0
    ) -> _Work | _Parked | None:
        """A queued work item for ``thread``, else park it; None when it must exit.

        ``busy`` and ``idle`` are the thread's seconds since its last call here, added
        to the pool's totals under the lock it takes anyway.
        """
        with self._lock:
            self.busy_seconds += busy
            self.idle_seconds += idle
            if searching:
                self._searching -= 1
            backlog = self._backlog
            if backlog:
                work = backlog.popleft()
                if backlog and not self._searching:
                    self._add_searcher()  # more is queued: someone must come for it
                return work
            if self._closed:
                self._threads.discard(thread)
                return None
            self._parked.append(thread)
            return _PARKED

    def _wait_parked(self, thread: _Thread) -> bool:
        """Wait in the inbox to be woken; False after the idle timeout or at shutdown."""
        try:
            signal = thread.inbox.get(timeout=self.idle_timeout)
        except queue.Empty:
            with self._lock:
                if thread in self._parked:
                    self._parked.remove(thread)
                    self._threads.discard(thread)
                    return False
            # run() or shutdown() unparked this thread as it timed out: its signal is on the way.
            signal = thread.inbox.get()
        if signal is _STOP:
            with self._lock:
                self._threads.discard(thread)
            return False
        return True


class _Parked:
    """Marker: the thread is on the idle stack and must wait in its inbox."""


_PARKED = _Parked()


class _Thread(threading.Thread):
    """A pool thread: runs work items until idle for too long or the pool shuts down."""

    def __init__(self, pool: BlockingPool, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.pool = pool
        self.inbox: queue.SimpleQueue[bool | None] = queue.SimpleQueue()

    def run(self) -> None:
        pool = self.pool
        following = pool._take_or_park(self, searching=True)
        while following is not None:
            if isinstance(following, _Parked):
                parked_at = time.perf_counter()
                if not pool._wait_parked(self):
                    return
                idle = time.perf_counter() - parked_at
                following = pool._take_or_park(self, searching=True, idle=idle)
                continue
            future, mailbox, fn, args, on_result, on_error = following
            started = time.perf_counter()
            if future.cancelled():  # the awaiting task gave up before the call started
                settle: _Setter | None = None
                value: Any = None
            else:
                try:
                    value = fn(*args)
                    settle = on_result
                except BaseException as exc:
                    value = _settable(exc)
                    settle = on_error
            del following, fn, args, on_result, on_error  # drop the finished call's references
            # Park (or take queued work) BEFORE reporting: the caller's next run() then
            # finds this thread idle instead of spawning another one.
            busy = time.perf_counter() - started
            following = pool._take_or_park(self, searching=False, busy=busy)
            if settle is not None:
                mailbox.post(settle, future, value)
            del future, mailbox, value, settle


def _resolve(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():
        future.set_result(result)


def _reject(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


def _settable(exc: BaseException) -> BaseException:
    # asyncio futures refuse StopIteration (it would break the coroutine protocol).
    if isinstance(exc, StopIteration):
        wrapped = RuntimeError("blocking call raised StopIteration")
        wrapped.__cause__ = exc
        return wrapped
    return exc
