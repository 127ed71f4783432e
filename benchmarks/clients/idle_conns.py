"""Open N keep-alive connections, one request each, keep them open, report the server's RSS.

The worker is the process (the server PID or one of its children) holding the most
connections to the port. Prints one JSON line: opened, held (still open at measurement),
the worker's RSS before and with the connections, in MiB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time

import psutil
import uvloop

REQUEST = b"GET /hello HTTP/1.1\r\nhost: bench\r\n\r\n"
BODY_LENGTH = 13  # "Hello, World!"
PARALLEL_CONNECTS = 256  # stays well under the servers' listen backlog
SETTLE_S = 1.0
MIN_HELD_SHARE = 0.95
MIB = 1024 * 1024


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def rss_by_pid(pid: int) -> dict[int, int]:
    root = psutil.Process(pid)
    return {proc.pid: proc.memory_info().rss for proc in [root, *root.children(recursive=True)]}


def find_worker(pid: int, port: int) -> psutil.Process:
    root = psutil.Process(pid)
    candidates = [root, *root.children(recursive=True)]

    def held(proc: psutil.Process) -> int:
        try:
            return sum(1 for c in proc.net_connections("tcp") if c.laddr and c.laddr.port == port)
        except psutil.Error:
            return -1

    return max(candidates, key=held)


Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def open_one(port: int, gate: asyncio.Semaphore) -> Connection | None:
    async with gate:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 10)
            writer.write(REQUEST)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            # Read the body too, so that at_eof() later tells whether the server hung up.
            await asyncio.wait_for(reader.readexactly(BODY_LENGTH), 10)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
            return None
        if not head.startswith(b"HTTP/1.1 200"):
            writer.close()
            return None
        return reader, writer


async def open_many(port: int, count: int) -> list[Connection]:
    gate = asyncio.Semaphore(PARALLEL_CONNECTS)
    results = await asyncio.gather(*(open_one(port, gate) for _ in range(count)))
    return [conn for conn in results if conn is not None]


def count_held(connections: list[Connection]) -> int:
    return sum(1 for reader, _ in connections if not reader.at_eof())


async def hold(port: int, pid: int, connections: int) -> dict[str, object]:
    base_by_pid = rss_by_pid(pid)
    started = time.monotonic()
    # A first batch tells quickly whether the server keeps idle connections at all
    # (a sync worker closes each one after its response: no point opening 10k).
    opened = await open_many(port, min(PARALLEL_CONNECTS, connections))
    await asyncio.sleep(SETTLE_S)
    if count_held(opened) >= MIN_HELD_SHARE * len(opened):
        opened += await open_many(port, connections - len(opened))
    open_s = time.monotonic() - started
    await asyncio.sleep(SETTLE_S)  # EOFs from servers that drop idle connections arrive here
    worker = find_worker(pid, port)
    rss = worker.memory_info().rss
    base = base_by_pid.get(worker.pid, 0)
    held = count_held(opened)
    for _, writer in opened:
        writer.close()
    return {
        "opened": len(opened),
        "held": held,
        "open_seconds": round(open_s, 2),
        "rss_base_mib": round(base / MIB, 1),
        "rss_mib": round(rss / MIB, 1),
        "worker_pid": worker.pid,
    }


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--connections", type=int, default=10_000)
    args = parser.parse_args()
    raise_fd_limit()
    print(json.dumps(uvloop.run(hold(args.port, args.pid, args.connections))))


if __name__ == "__main__":
    cli()
