"""Per-request CPU cost of our HTTP/1 stack without sockets (a tool for optimising).

Drives one ``H1Protocol`` with an in-memory transport: feed a request, let the loop
run the handler, collect the response bytes; repeat. What it reports is the Python
work per request above the event loop and the kernel, so changes on the hot path
can be compared in seconds, on a busy machine, without wrk.

    python benchmarks/inproc.py                 # asgi, rsgi, wsgi hello; µs per request
    python benchmarks/inproc.py --profile asgi  # cProfile of the asgi run, top functions
    python benchmarks/inproc.py asgi --connections 512 --path /sleep10ms --gc
                                                # many connections in flight, GC share
    python benchmarks/inproc.py asgi --path /stream-echo --body 102400
                                                # a POST body, a streamed (chunked) answer
    valgrind --tool=callgrind python benchmarks/inproc.py asgi --once --requests N
                                                # instructions: run twice, subtract

Not a substitute for the load runs in ``run.py`` (no syscalls, no parsing of many
connections at once); it is the microscope, they are the verdict.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import pstats
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from granian_core.config import ServerConfig
from granian_core.http1.protocol import H1Protocol
from granian_core.server.heap import freeze_startup_heap
from granian_core.server.state import WorkerState
from granian_core.server.worker import build_interface

REQUEST = b"GET %s HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n"
POST = b"POST %s HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUser-Agent: wrk\r\nContent-Length: %d\r\n\r\n"


def _request(path: str, body_size: int) -> bytes:
    """The request every connection sends: a GET, or a POST with a body of ``body_size``."""
    if not body_size:
        return REQUEST % path.encode()
    return POST % (path.encode(), body_size) + b"x" * body_size


class Round:
    """The responses awaited in one round: one per connection."""

    def __init__(self, loop: asyncio.AbstractEventLoop, expected: int) -> None:
        self.done = loop.create_future()
        self._remaining = expected

    def answered(self) -> None:
        self._remaining -= 1
        if self._remaining == 0:
            self.done.set_result(None)


class MemoryTransport:
    """Just enough of a transport for ``H1Protocol``: writes are counted, then dropped."""

    def __init__(self) -> None:
        self.written = 0
        self.writes = 0
        self._closing = False
        self.round: Round | None = None
        self._chunked = False  # the response in progress ends with the last-chunk marker

    def write(self, data: bytes) -> None:
        self.written += len(data)
        self.writes += 1
        if self.round is None:
            return
        if data.startswith(b"HTTP/1.1 "):
            self._chunked = b"transfer-encoding: chunked" in data[: data.find(b"\r\n\r\n")]
        if not self._chunked or data.endswith(b"0\r\n\r\n"):
            self.round.answered()
            self.round = None

    def writelines(self, chunks: list[bytes]) -> None:
        for chunk in chunks:
            self.write(chunk)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}.get(
            name, default
        )

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        self._closing = True

    def abort(self) -> None:
        self._closing = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0


def _app(interface: str) -> Any:
    if interface == "rsgi":
        from benchmarks.apps.rsgi_app import app
    elif interface == "wsgi":
        from benchmarks.apps.wsgi_app import app
    else:
        from benchmarks.apps.asgi_app import app
    return app


class GCStats:
    """Collections and their wall time while installed (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.collections = [0, 0, 0]
        self.seconds = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.collections[info["generation"]] += 1
            self.seconds += time.perf_counter() - self._started


def _rounds(requests: int, connections: int) -> int:
    """Rounds of one request per connection: ``requests`` rounded down, at least one."""
    return max(1, requests // connections)


async def _drive(
    args: argparse.Namespace, interface: str, requests: int, stats: GCStats | None = None
) -> float:
    """Serve ``requests`` requests over ``args.connections`` in-memory connections."""
    loop = asyncio.get_running_loop()
    config = ServerConfig(
        interface=interface, http="1", http1_parser=args.parser, log_enabled=False
    )
    iface = build_interface(config, _app(interface), loop)
    iface.setup(loop)
    if args.freeze:
        freeze_startup_heap()  # as a worker does once its app is loaded
    await iface.startup()
    state = WorkerState(config, iface, loop)
    pairs = []
    connections = args.connections
    for _ in range(connections):
        proto = H1Protocol(state)
        transport = MemoryTransport()
        proto.connection_made(transport)  # type: ignore[arg-type]
        pairs.append((proto, transport))
    request = _request(args.path, args.body)
    if stats is not None:
        gc.callbacks.append(stats)
    started = time.process_time()
    for _ in range(_rounds(requests, connections)):
        this_round = Round(loop, connections)
        for proto, transport in pairs:
            transport.round = this_round
            proto.data_received(request)
        await this_round.done
    elapsed = time.process_time() - started
    if stats is not None:
        gc.callbacks.remove(stats)
    for proto, _ in pairs:
        proto.connection_lost(None)
    state.close()
    await iface.shutdown()
    iface.teardown(loop)
    return elapsed


async def _baseline(requests: int) -> float:
    """Two empty loop turns per request: the handler's task step, and the write
    coalescer's flush, which under load one turn serves for every connection at once."""
    started = time.process_time()
    for _ in range(requests):
        await asyncio.sleep(0)
        await asyncio.sleep(0)
    return time.process_time() - started


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop

        return uvloop.new_event_loop()
    except ImportError:
        return asyncio.new_event_loop()


def measure(args: argparse.Namespace, interface: str) -> str:
    """CPU microseconds of our work per request (best of three runs, loop turns subtracted
    when one connection is driven), and with ``--gc`` the collector's share."""
    loop = _new_loop()
    try:
        loop.run_until_complete(_drive(args, interface, args.requests // 10))  # warm-up
        stats = GCStats() if args.gc else None
        runs = [
            loop.run_until_complete(_drive(args, interface, args.requests, stats)) for _ in range(3)
        ]
        turn = 0.0
        if args.connections == 1:
            turn = min(loop.run_until_complete(_baseline(args.requests)) for _ in range(3))
    finally:
        loop.close()
    served = _rounds(args.requests, args.connections) * args.connections
    line = f"{(min(runs) - turn) / served * 1e6:6.2f} µs/request"
    if stats is not None:
        handled = len(runs) * served
        per_k = ", ".join(f"{n * 1000 / handled:.1f}" for n in stats.collections)
        share = stats.seconds / sum(runs)
        line += f"; GC {share:.1%} of CPU, collections per 1000 requests (gen 0, 1, 2): {per_k}"
    return line


def once(args: argparse.Namespace, interface: str) -> None:
    """One run, nothing else: for instruction counts (run twice with two sizes, subtract)."""
    loop = _new_loop()
    try:
        loop.run_until_complete(_drive(args, interface, args.requests))
    finally:
        loop.close()


def profile(args: argparse.Namespace, interface: str) -> None:
    loop = _new_loop()
    try:
        profiler = cProfile.Profile()
        profiler.enable()
        loop.run_until_complete(_drive(args, interface, args.requests))
        profiler.disable()
    finally:
        loop.close()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(args.top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("interfaces", nargs="*", default=["asgi", "rsgi", "wsgi"])
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--parser", default="auto", choices=["auto", "h11", "httptools"])
    parser.add_argument("--connections", type=int, default=1, help="requests in flight at once")
    parser.add_argument("--path", default="/hello", help="the benchmark app's route")
    parser.add_argument(
        "--body", type=int, default=0, help="POST a body of this many bytes (e.g. /stream-echo)"
    )
    parser.add_argument("--gc", action="store_true", help="report the garbage collector's share")
    parser.add_argument(
        "--no-freeze", dest="freeze", action="store_false", help="skip the worker's gc.freeze()"
    )
    parser.add_argument("--once", action="store_true", help="one run only (instruction counts)")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    for interface in args.interfaces:
        if args.profile:
            profile(args, interface)
        elif args.once:
            once(args, interface)
        else:
            print(f"{interface:5} {args.parser:9} {measure(args, interface)}")


if __name__ == "__main__":
    main()
