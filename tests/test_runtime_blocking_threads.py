"""`--runtime-blocking-threads`: the threads that read files for file responses."""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

SIZE = 1024 * 1024  # several reads, each larger than the inline limit


def _io_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("granian-io")]


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_large_file_reads_use_at_most_the_configured_threads(
    serve: Callable[..., Any], tmp_path: Path, loop: str
) -> None:
    path = tmp_path / "big.bin"
    payload = bytes(range(256)) * (SIZE // 256)
    path.write_bytes(payload)

    async def app(scope: Any, proto: Any) -> None:
        proto.response_file(200, [("content-type", "application/octet-stream")], str(path))

    before = set(_io_threads())
    with serve(app, interface="rsgi", loop=loop, runtime_blocking_threads=2) as srv:

        def fetch(_: int) -> bytes:
            return httpx.get(srv.url, timeout=30).content

        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            bodies = list(pool.map(fetch, range(6)))
        used = set(_io_threads()) - before
    assert bodies == [payload] * 6
    if loop == "uvloop":  # no loop.sendfile: the body is read by the I/O threads
        assert 1 <= len(used) <= 2
    else:  # asyncio sends plain-TCP files with sendfile: no reads at all
        assert used == set()
