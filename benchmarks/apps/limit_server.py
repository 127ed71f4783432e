"""The ceiling of pure Python here: the smallest HTTP/1.1 server on uvloop.

It parses nothing: every ``\\r\\n\\r\\n`` ends a request (bodyless GETs only), and each request
gets the same canned 13-byte response. Pipelined requests are answered in one write.
Usage: ``python limit_server.py --port P``.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
from typing import cast

import uvloop

RESPONSE = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 13\r\n\r\nHello, World!"
_END = b"\r\n\r\n"


class CannedProtocol(asyncio.Protocol):
    __slots__ = ("tail", "transport")

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.tail = b""  # the last bytes of the previous chunk: a terminator may straddle reads

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        buffer = self.tail + data
        count = buffer.count(_END)
        self.tail = buffer[-3:] if not buffer.endswith(_END) else b""
        if count and self.transport is not None:
            self.transport.write(RESPONSE * count)


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        CannedProtocol, "127.0.0.1", port, backlog=2048, reuse_address=True
    )
    for sock in server.sockets:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvloop.run(serve(args.port))


if __name__ == "__main__":
    main()
