"""ASGI apps with particular lifespan behaviours (also loaded by the CLI in subprocess tests)."""

from __future__ import annotations

import queue
from typing import Any

events: queue.Queue[str] = queue.Queue()


async def _hello(send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"served"})


async def failing_startup(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers ``lifespan.startup.failed``: the worker must not serve."""
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "database unreachable"})
        return
    await _hello(send)


async def no_lifespan(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Rejects the lifespan scope by raising, as apps without lifespan support do."""
    if scope["type"] != "http":
        events.put("lifespan called")
        raise ValueError(f"unsupported scope {scope['type']}")
    await _hello(send)


async def returns_at_once(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Returns from the lifespan scope without a word: served without lifespan."""
    if scope["type"] == "http":
        await _hello(send)


async def failing_shutdown(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Starts fine, answers ``lifespan.shutdown.failed``: only logged."""
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        events.put("shutdown received")
        await send({"type": "lifespan.shutdown.failed", "message": "flush failed"})
        return
    await _hello(send)


async def wrong_answer(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers startup with a shutdown message: a lifespan error, served without lifespan."""
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.shutdown.complete"})
        return
    await _hello(send)
