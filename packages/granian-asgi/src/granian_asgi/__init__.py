"""ASGI 3 adapter for granian-py: the ``asgi`` and ``asginl`` interfaces."""

from __future__ import annotations

from .interface import ASGIInterface, ASGINoLifespanInterface

__all__ = ["ASGIInterface", "ASGINoLifespanInterface"]
