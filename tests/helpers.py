"""Small helpers shared by the integration tests: raw sockets, the apps' report queues, PIDs."""

from __future__ import annotations

import queue
import socket
import time
from typing import Any

import httpx
import pytest

WAIT = 10.0

Reports = queue.Queue[tuple[str, Any]]


def connect(port: int, timeout: float = WAIT) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def read_until_eof(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def drain(reports: Reports) -> None:
    """Forget what earlier tests' apps reported."""
    while True:
        try:
            reports.get_nowait()
        except queue.Empty:
            return


def next_report(reports: Reports, name: str, timeout: float = WAIT) -> Any:
    """The app's next report, which must be ``name``; its value."""
    try:
        got, value = reports.get(timeout=timeout)
    except queue.Empty:
        pytest.fail(f"the app never reported {name!r}")
    assert got == name
    return value


def worker_pid(url: str) -> int:
    """The PID a test app answers with (the worker that served the request)."""
    return int(httpx.get(url, timeout=10).text)


def wait_for_new_worker(url: str, old_pid: int, timeout: float = 20.0) -> int:
    """Poll ``url`` until a worker other than ``old_pid`` answers; its PID."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            pid = worker_pid(url)
        except httpx.TransportError:
            pid = old_pid
        if pid != old_pid:
            return pid
        time.sleep(0.1)
    raise AssertionError("no new worker answered")


async def complete_lifespan(receive: Any, send: Any) -> None:
    """A test app's whole lifespan: every startup/shutdown message answered as complete."""
    while True:
        message = await receive()
        await send({"type": message["type"] + ".complete"})
        if message["type"] == "lifespan.shutdown":
            return
