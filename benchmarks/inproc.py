"""Per-request CPU cost of our HTTP/1 stack without sockets (a tool for optimising).

Drives one ``H1Protocol`` with an in-memory transport: feed a request, let the loop
run the handler, collect the response bytes; repeat. What it reports is the Python
work per request above the event loop and the kernel, so changes on the hot path
can be compared in seconds, on a busy machine, without wrk.

    python benchmarks/inproc.py                 # asgi, rsgi, wsgi hello; µs per request
    python benchmarks/inproc.py --profile asgi  # cProfile of the asgi run, top functions

Not a substitute for the load runs in ``run.py`` (no syscalls, no parsing of many
connections at once); it is the microscope, they are the verdict.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from granian_core.config import ServerConfig
from granian_core.http1.protocol import H1Protocol
from granian_core.server.state import WorkerState
from granian_core.server.worker import build_interface

REQUEST = b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n"


class MemoryTransport:
    """Just enough of a transport for ``H1Protocol``: writes are counted, then dropped."""

    def __init__(self) -> None:
        self.written = 0
        self.writes = 0
        self._closing = False

    def write(self, data: bytes) -> None:
        self.written += len(data)
        self.writes += 1

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


async def _drive(interface: str, requests: int, parser: str) -> float:
    loop = asyncio.get_running_loop()
    config = ServerConfig(interface=interface, http="1", http1_parser=parser, log_enabled=False)
    iface = build_interface(config, _app(interface), loop)
    iface.setup(loop)
    await iface.startup()
    state = WorkerState(config, iface, loop)
    proto = H1Protocol(state)
    transport = MemoryTransport()
    proto.connection_made(transport)  # type: ignore[arg-type]
    rounds = 3 if interface == "wsgi" else 1  # WSGI answers from a thread: more loop turns
    started = time.process_time()
    for _ in range(requests):
        writes = transport.writes
        proto.data_received(REQUEST)
        while transport.writes == writes:
            for _ in range(rounds):
                await asyncio.sleep(0)
    elapsed = time.process_time() - started
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


def measure(interface: str, requests: int, parser: str) -> float:
    """CPU microseconds of our work per request (best of three runs, loop turns subtracted)."""
    loop = _new_loop()
    try:
        loop.run_until_complete(_drive(interface, requests // 10, parser))  # warm-up
        best = min(loop.run_until_complete(_drive(interface, requests, parser)) for _ in range(3))
        turn = min(loop.run_until_complete(_baseline(requests)) for _ in range(3))
    finally:
        loop.close()
    return (best - turn) / requests * 1e6


def profile(interface: str, requests: int, parser: str, top: int) -> None:
    loop = _new_loop()
    try:
        profiler = cProfile.Profile()
        profiler.enable()
        loop.run_until_complete(_drive(interface, requests, parser))
        profiler.disable()
    finally:
        loop.close()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("interfaces", nargs="*", default=["asgi", "rsgi", "wsgi"])
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--parser", default="auto", choices=["auto", "h11", "httptools"])
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    for interface in args.interfaces:
        if args.profile:
            profile(interface, args.requests, args.parser, args.top)
        else:
            cost = measure(interface, args.requests, args.parser)
            print(f"{interface:5} {args.parser:9} {cost:6.2f} µs/request")


if __name__ == "__main__":
    main()
