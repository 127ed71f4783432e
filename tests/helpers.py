"""Small helpers shared by the integration tests: raw sockets and the apps' report queues."""

from __future__ import annotations

import queue
import socket
from typing import Any

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
