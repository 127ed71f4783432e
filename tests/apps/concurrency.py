"""Apps that record how many requests they were running at once (for --backpressure)."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any


class Gauge:
    """Counts concurrent requests and remembers the peak; thread-safe for WSGI."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.current = 0
        self.peak = 0

    def enter(self) -> None:
        with self._lock:
            self.current += 1
            self.peak = max(self.peak, self.current)

    def leave(self) -> None:
        with self._lock:
            self.current -= 1


def asgi_app(gauge: Gauge, delay: float) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        gauge.enter()
        try:
            await asyncio.sleep(delay)
        finally:
            gauge.leave()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


def rsgi_app(gauge: Gauge, delay: float) -> Any:
    async def app(scope: Any, proto: Any) -> None:
        gauge.enter()
        try:
            await asyncio.sleep(delay)
        finally:
            gauge.leave()
        proto.response_bytes(200, [], b"ok")

    return app


def wsgi_app(gauge: Gauge, delay: float) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        gauge.enter()
        try:
            time.sleep(delay)
        finally:
            gauge.leave()
        start_response("200 OK", [("content-type", "text/plain")])
        return [b"ok"]

    return app
