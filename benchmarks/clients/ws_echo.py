"""WebSocket echo load: N connections, each sends a message and waits for its echo, repeat.

Runs ``--warmup`` seconds unmeasured, then ``--duration`` seconds measured. Prints one JSON
line: messages echoed, seconds measured, errors and a sample of round-trip times (µs).

The client does the least a WebSocket client can: after an HTTP/1.1 upgrade handshake it
sends one precomputed masked binary frame and waits for the server's echo, which must be
exactly the unmasked frame of the same payload (compared byte for byte). A library client
(``websockets``) spends several times the server's CPU per message, which made the row
measure the clients; this one keeps the server the bottleneck.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import uvloop

MESSAGE = b"0123456789abcdef"
SAMPLE_EVERY = 16  # keep one round-trip time in this many
_MASK = b"\x37\xfa\x21\x3d"
#: FIN + binary, MASK + length, the key, the masked payload (the length is under 126).
FRAME = (
    bytes((0x82, 0x80 | len(MESSAGE)))
    + _MASK
    + bytes(byte ^ _MASK[i % 4] for i, byte in enumerate(MESSAGE))
)
#: What the server must answer: the same payload in an unmasked binary frame.
ECHO = bytes((0x82, len(MESSAGE))) + MESSAGE


@dataclass
class Tally:
    measure_from: float
    measure_until: float
    messages: int = 0
    errors: int = 0
    first_error: str = ""
    samples_us: list[int] = field(default_factory=list)

    def fail(self, reason: str) -> None:
        self.errors += 1
        self.first_error = self.first_error or reason[:200]


class EchoProtocol(asyncio.Protocol):
    """One connection: the handshake, then one frame in flight at a time."""

    def __init__(self, host: str, path: str, tally: Tally, done: asyncio.Future[None]) -> None:
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n\r\n"
        ).encode()
        self.tally = tally
        self.done = done
        self.buffer = b""
        self.upgraded = False
        self.started = 0.0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(self.request)  # type: ignore[union-attr]

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data
        if not self.upgraded:
            head, found, rest = buffer.partition(b"\r\n\r\n")
            if not found:
                self.buffer = buffer
                return
            if not head.startswith(b"HTTP/1.1 101"):
                self._finish(f"handshake refused: {head[:60]!r}")
                return
            self.upgraded = True
            buffer = rest
            self._send()
        if len(buffer) < len(ECHO):
            self.buffer = buffer
            return
        if buffer != ECHO:
            self._finish(f"unexpected echo: {buffer[:40]!r}")
            return
        self.buffer = b""
        tally = self.tally
        now = time.perf_counter()
        if self.started >= tally.measure_from:
            tally.messages += 1
            if tally.messages % SAMPLE_EVERY == 0:
                tally.samples_us.append(int((now - self.started) * 1e6))
        if now < tally.measure_until:
            self._send()
        else:
            self._finish(None)

    def _send(self) -> None:
        self.started = time.perf_counter()
        assert self.transport is not None
        self.transport.write(FRAME)

    def _finish(self, error: str | None) -> None:
        if error is not None:
            self.tally.fail(error)
        if self.transport is not None:
            self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)
        if time.perf_counter() < self.tally.measure_until and not self.tally.errors:
            self.tally.fail(f"connection lost early: {exc!r}")


async def echo_loop(url: str, tally: Tally) -> None:
    parts = urlsplit(url)
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    try:
        await loop.create_connection(
            lambda: EchoProtocol(parts.netloc, parts.path or "/", tally, done),
            parts.hostname,
            parts.port,
        )
    except OSError as exc:
        tally.fail(f"{type(exc).__name__}: {exc}")
        return
    await done


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
