"""Micro-benchmarks of the WebSocket frame codecs (pytest-benchmark): one echo cycle, a
masked client frame parsed and the server's answer serialized, for our ``FrameCodec``
and for wsproto's frame layer (what sessions with permessage-deflate use).

In the normal suite they run once each (``--benchmark-disable`` in pytest.ini), so they
stay correct. Measure with::

    hatch run pytest tests/test_bench_ws_frames.py --benchmark-enable

Nothing here asserts a time.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from granian_core.ws.deflate import negotiate_extensions
from granian_core.ws.frames import FrameCodec
from granian_core.ws.wsproto_codec import WsprotoCodec

from tests.apps.ws_raw import OP_BINARY, OP_TEXT, encode_frame

LIMIT = 16 * 1024 * 1024


class Echo:
    """A FrameHandler that keeps the last message (the benchmark answers it)."""

    def __init__(self) -> None:
        self.last: str | bytes = b""

    def message_received(self, data: str | bytes) -> None:
        self.last = data

    def ping_received(self, payload: bytes) -> None:
        raise AssertionError("no pings here")

    def pong_received(self, payload: bytes) -> None:
        raise AssertionError("no pongs here")

    def close_received(self, code: int, reason: str) -> None:
        raise AssertionError("no close here")

    def protocol_failed(self, code: int, reason: str) -> None:
        raise AssertionError(f"protocol error {code}: {reason}")


def _codec(kind: str, handler: Echo) -> FrameCodec | WsprotoCodec:
    if kind == "ours":
        return FrameCodec(handler, LIMIT)
    _, extensions = negotiate_extensions([], LIMIT, True)
    return WsprotoCodec(handler, extensions)


@pytest.mark.parametrize("kind", ["ours", "wsproto"])
@pytest.mark.parametrize(("opcode", "size"), [(OP_BINARY, 16), (OP_TEXT, 16), (OP_BINARY, 65536)])
def test_echo_cycle(benchmark: Any, kind: str, opcode: int, size: int) -> None:
    """Parse one masked frame, serialize the echo (the ws-echo benchmark's server work)."""
    payload = os.urandom(size // 2).hex().encode()
    frame = encode_frame(opcode, payload)
    handler = Echo()
    codec = _codec(kind, handler)

    def cycle() -> bytes:
        codec.receive_data(frame)
        last = handler.last
        return codec.text_frame(last) if isinstance(last, str) else codec.binary_frame(last)

    echo = benchmark(cycle)
    header_size = 2 if size < 126 else 4 if size < 65536 else 10
    assert echo[header_size:] == payload
    assert echo[0] == 0x80 | opcode
