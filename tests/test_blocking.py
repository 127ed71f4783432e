"""granian_core.blocking.BlockingPool: on-demand threads, idle exit, FIFO queue, shutdown."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from granian_core.blocking import BlockingPool

WAIT = 10.0  # generous bound for anything that must happen "soon"


def _wait_until(predicate: object, timeout: float = WAIT) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def _pool_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("granian-blocking-")]


def test_runs_a_call_on_a_named_daemon_thread() -> None:
    pool = BlockingPool(max_threads=2, idle_timeout=30)

    def where(x: int, y: int) -> tuple[int, str, bool]:
        thread = threading.current_thread()
        return x + y, thread.name, thread.daemon

    async def main() -> tuple[int, str, bool]:
        return await pool.run(where, 2, 3)

    try:
        total, name, daemon = asyncio.run(main())
    finally:
        pool.shutdown()
    assert total == 5
    assert name == "granian-blocking-1"
    assert daemon is True


def test_exceptions_propagate_to_the_awaiting_coroutine() -> None:
    pool = BlockingPool(max_threads=1, idle_timeout=30)

    def fail() -> None:
        raise ValueError("boom")

    def stop() -> None:
        raise StopIteration

    async def main() -> None:
        with pytest.raises(ValueError, match="boom"):
            await pool.run(fail)
        with pytest.raises(RuntimeError, match="StopIteration"):
            await pool.run(stop)
        # The thread survives its callables' failures.
        assert await pool.run(lambda: 42) == 42

    try:
        asyncio.run(main())
    finally:
        pool.shutdown()
    assert pool.threads == 0


def test_threads_grow_on_demand_up_to_the_maximum() -> None:
    pool = BlockingPool(max_threads=3, idle_timeout=30)
    release = threading.Event()
    running: list[str] = []
    lock = threading.Lock()

    def block(i: int) -> int:
        with lock:
            running.append(threading.current_thread().name)
        release.wait(WAIT)
        return i

    async def main() -> list[int]:
        first = pool.run(block, 0)
        await asyncio.to_thread(_wait_until, lambda: len(running) == 1)
        assert pool.threads == 1  # one call, one thread: nothing spawned ahead of demand
        rest = [pool.run(block, i) for i in range(1, 8)]
        await asyncio.to_thread(_wait_until, lambda: len(running) == 3)
        assert pool.threads == 3
        assert pool.queued == 5  # the rest wait for a free thread
        release.set()
        return list(await asyncio.gather(first, *rest))

    try:
        results = asyncio.run(main())
    finally:
        pool.shutdown()
    assert results == list(range(8))
    assert len(set(running)) == 3
    assert set(running) <= {f"granian-blocking-{n}" for n in (1, 2, 3)}


def test_queued_work_runs_in_fifo_order() -> None:
    pool = BlockingPool(max_threads=1, idle_timeout=30)
    gate = threading.Event()
    order: list[int] = []

    def record(i: int) -> None:
        if i == 0:
            gate.wait(WAIT)
        order.append(i)

    async def main() -> None:
        futures = [pool.run(record, i) for i in range(20)]
        gate.set()
        await asyncio.gather(*futures)

    try:
        asyncio.run(main())
    finally:
        pool.shutdown()
    assert order == list(range(20))


def test_an_idle_thread_is_reused_before_spawning() -> None:
    pool = BlockingPool(max_threads=8, idle_timeout=30)

    async def main() -> set[str]:
        names = set()
        for _ in range(20):  # sequential calls: one thread is always free
            names.add(await pool.run(lambda: threading.current_thread().name))
        return names

    try:
        names = asyncio.run(main())
    finally:
        pool.shutdown()
    assert len(names) == 1


def test_idle_threads_exit_after_the_timeout() -> None:
    pool = BlockingPool(max_threads=4, idle_timeout=0.2)
    release = threading.Event()

    async def burst() -> None:
        futures = [pool.run(release.wait, WAIT) for _ in range(4)]
        await asyncio.to_thread(_wait_until, lambda: pool.threads == 4)
        release.set()
        await asyncio.gather(*futures)

    asyncio.run(burst())
    _wait_until(lambda: pool.threads == 0)
    assert not _pool_threads()

    # The pool spawns again after its threads retired.
    async def again() -> int:
        return await pool.run(lambda: 7)

    try:
        assert asyncio.run(again()) == 7
    finally:
        pool.shutdown()


def test_shutdown_finishes_queued_work_then_refuses_more() -> None:
    pool = BlockingPool(max_threads=1, idle_timeout=30)
    gate = threading.Event()
    done: list[int] = []

    def work(i: int) -> None:
        if i == 0:
            gate.wait(WAIT)
        done.append(i)

    async def main() -> None:
        for i in range(3):
            pool.run(work, i)
        gate.set()
        pool.shutdown(wait=True)
        with pytest.raises(RuntimeError, match="shut down"):
            pool.run(work, 99)

    asyncio.run(main())
    assert done == [0, 1, 2]
    assert pool.threads == 0
    assert not _pool_threads()


def test_shutdown_wakes_idle_threads() -> None:
    pool = BlockingPool(max_threads=3, idle_timeout=600)
    release = threading.Event()

    async def main() -> None:
        futures = [pool.run(release.wait, WAIT) for _ in range(3)]
        release.set()
        await asyncio.gather(*futures)
        await asyncio.to_thread(_wait_until, lambda: pool.idle == 3)

    asyncio.run(main())
    pool.shutdown(wait=True)  # returns although the idle timeout is 10 minutes
    assert pool.threads == 0
    assert not _pool_threads()


def test_a_cancelled_call_that_did_not_start_is_skipped() -> None:
    pool = BlockingPool(max_threads=1, idle_timeout=30)
    gate = threading.Event()
    ran: list[int] = []

    async def main() -> None:
        first = pool.run(gate.wait, WAIT)
        second = pool.run(ran.append, 1)
        second.cancel()
        gate.set()
        await first
        assert await pool.run(lambda: 2) == 2  # FIFO: the skipped one came before this

    try:
        asyncio.run(main())
    finally:
        pool.shutdown()
    assert ran == []


def test_each_caller_gets_its_own_loop() -> None:
    pool = BlockingPool(max_threads=2, idle_timeout=30)

    async def main() -> int:
        return await pool.run(sum, [1, 2, 3])

    try:
        results: list[int] = []
        threads = [
            threading.Thread(target=lambda: results.append(asyncio.run(main()))) for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT)
    finally:
        pool.shutdown()
    assert results == [6, 6, 6, 6]


def test_invalid_size_is_rejected() -> None:
    with pytest.raises(ValueError, match="max_threads"):
        BlockingPool(max_threads=0, idle_timeout=30)


def test_the_calls_of_one_loop_pass_start_when_the_pass_ends() -> None:
    """Threads are woken once the loop thread is done with the pass, not per call."""
    pool = BlockingPool(max_threads=1, idle_timeout=30)
    ran: list[int] = []

    async def main() -> None:
        await pool.run(ran.append, 0)  # the thread now waits, parked
        await asyncio.to_thread(_wait_until, lambda: pool.idle == 1)
        futures = [pool.run(ran.append, i) for i in (1, 2, 3)]
        time.sleep(0.1)  # the loop thread is still in this pass: the GIL is free, yet...
        assert ran == [0]  # ...no thread was woken for the calls so far
        await asyncio.gather(*futures)

    try:
        asyncio.run(main())
    finally:
        pool.shutdown()
    assert ran == [0, 1, 2, 3]


def test_submit_settles_through_the_callers_callbacks() -> None:
    pool = BlockingPool(max_threads=1, idle_timeout=30)
    seen: list[tuple[str, object]] = []
    gate = threading.Event()

    def on_result(future: asyncio.Future[object], value: object) -> None:
        seen.append(("result", value))
        future.set_result(value)

    def on_error(future: asyncio.Future[object], exc: BaseException) -> None:
        seen.append(("error", type(exc).__name__))
        future.set_exception(exc)

    def fail() -> None:
        raise KeyError("x")

    async def main() -> None:
        loop = asyncio.get_running_loop()
        ok, bad, skipped, blocker = (loop.create_future() for _ in range(4))
        pool.submit(blocker, gate.wait, (WAIT,), on_result, on_error)
        pool.submit(ok, sum, ([1, 2],), on_result, on_error)
        pool.submit(bad, fail, (), on_result, on_error)
        pool.submit(skipped, seen.append, (("ran", None),), on_result, on_error)
        skipped.cancel()  # before a thread reached it: neither run nor settled
        gate.set()
        assert await ok == 3
        with pytest.raises(KeyError):
            await bad
        await asyncio.sleep(0.05)

    try:
        asyncio.run(main())
    finally:
        pool.shutdown()
    assert seen == [("result", True), ("result", 3), ("error", "KeyError")]
