"""WebSocket echo load: N connections, each sends a message and waits for its echo, repeat.

Runs ``--warmup`` seconds unmeasured, then ``--duration`` seconds measured. Prints one JSON
line: messages echoed, seconds measured, errors and a sample of round-trip times (µs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import dataclass, field

import uvloop
from websockets.asyncio.client import connect

MESSAGE = b"0123456789abcdef"
SAMPLE_EVERY = 16  # keep one round-trip time in this many


@dataclass
class Tally:
    measure_from: float
    measure_until: float
    messages: int = 0
    errors: int = 0
    first_error: str = ""
    samples_us: list[int] = field(default_factory=list)


async def echo_loop(url: str, tally: Tally) -> None:
    try:
        async with connect(url, compression=None, max_size=None) as ws:
            while (start := time.perf_counter()) < tally.measure_until:
                await ws.send(MESSAGE)
                await ws.recv()
                if start >= tally.measure_from:
                    tally.messages += 1
                    if tally.messages % SAMPLE_EVERY == 0:
                        tally.samples_us.append(int((time.perf_counter() - start) * 1e6))
    except Exception as exc:  # any failure (refused, closed, protocol error) counts
        tally.errors += 1
        tally.first_error = tally.first_error or f"{type(exc).__name__}: {exc}"[:200]


async def main(url: str, connections: int, warmup: float, duration: float) -> dict[str, object]:
    now = time.perf_counter()
    tally = Tally(measure_from=now + warmup, measure_until=now + warmup + duration)
    await asyncio.gather(*(echo_loop(url, tally) for _ in range(connections)))
    return {
        "messages": tally.messages,
        "seconds": duration,
        "errors": tally.errors,
        "first_error": tally.first_error,
        "samples_us": tally.samples_us,
    }


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--duration", type=float, default=3.0)
    args = parser.parse_args()
    result = uvloop.run(main(args.url, args.connections, args.warmup, args.duration))
    print(json.dumps(result))


if __name__ == "__main__":
    cli()
