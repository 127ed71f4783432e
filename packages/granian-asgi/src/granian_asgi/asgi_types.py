"""The ASGI 3 callable signature, as type aliases shared by the adapter's modules."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["ASGIApp", "Message", "Receive", "Scope", "Send"]

Scope = dict[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The ``asgi`` key of every scope we build: ASGI 3.0, spec version 2.3.
ASGI_VERSION: dict[str, str] = {"version": "3.0", "spec_version": "2.3"}
