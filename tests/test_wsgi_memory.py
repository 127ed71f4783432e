"""A 200 MB upload streams through a WSGI app with flat server memory."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import psutil

UPLOAD_SIZE = 200 * 1024 * 1024
CHUNK = 256 * 1024
#: RSS growth allowed while the upload runs: buffers, not the body.
MAX_GROWTH = 48 * 1024 * 1024


def _chunks() -> Iterator[bytes]:
    chunk = bytes(range(256)) * (CHUNK // 256)
    for _ in range(UPLOAD_SIZE // CHUNK):
        yield chunk


def _expected_digest() -> str:
    digest = hashlib.sha256()
    for chunk in _chunks():
        digest.update(chunk)
    return digest.hexdigest()


class PeakRSS:
    """Samples the RSS of a process (and its children) in a background thread."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def current(self) -> int:
        processes = [self.process, *self.process.children(recursive=True)]
        return sum(p.memory_info().rss for p in processes)

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.current())

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.current())


def _upload_and_measure(url: str, pid: int) -> tuple[dict[str, Any], int]:
    with httpx.Client(base_url=url, timeout=60) as client:
        # Warm up: the first requests allocate the worker's steady-state buffers.
        small = b"x" * (4 * 1024 * 1024)
        assert client.post("/upload-hash", content=small).json()["size"] == len(small)
        rss = PeakRSS(pid)
        baseline = rss.current()
        with rss:
            response = client.post("/upload-hash", content=_chunks())
    return response.json(), rss.peak - baseline


def test_200mb_upload_keeps_server_memory_flat(granian_proc: Callable[..., Any]) -> None:
    # A separate server process, so its RSS is the server's alone.
    proc = granian_proc("--interface", "wsgi", "tests.apps.wsgi_basic:app")
    result, growth = _upload_and_measure(proc.url, proc.proc.pid)
    assert result == {"size": UPLOAD_SIZE, "sha256": _expected_digest()}
    assert growth < MAX_GROWTH, f"server RSS grew by {growth / 2**20:.1f} MiB"
