"""The event-loop registry (``granian.loops``).

``loops.register(key, packages=[...])`` stores a builder only if every named
package imports; ``loops.get(key)`` builds a new loop. ``auto`` picks uvloop
when installed, else asyncio; a user may register their own ``auto``.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable, KeysView
from types import ModuleType
from typing import Any

__all__ = ["BuilderRegistry", "loops"]

LoopBuilder = Callable[..., asyncio.AbstractEventLoop]


class BuilderRegistry:
    """Named loop builders, each with the packages it was registered with."""

    def __init__(self) -> None:
        self._builders: dict[str, tuple[LoopBuilder, dict[str, ModuleType]]] = {}

    def register(
        self, key: str, packages: list[str] | None = None
    ) -> Callable[[LoopBuilder], LoopBuilder]:
        def wrap(builder: LoopBuilder) -> LoopBuilder:
            loaded: dict[str, ModuleType] = {}
            for name in packages or []:
                try:
                    loaded[name] = importlib.import_module(name)
                except ImportError:
                    return builder
            self._builders[key] = (builder, loaded)
            return builder

        return wrap

    def get(self, key: str) -> asyncio.AbstractEventLoop:
        try:
            builder, packages = self._builders[key]
        except KeyError:
            raise RuntimeError(f"'{key}' implementation not available.") from None
        return builder(**packages)

    def keys(self) -> KeysView[str]:
        return self._builders.keys()

    def __contains__(self, key: object) -> bool:
        return key in self._builders


loops = BuilderRegistry()


def _set_current(loop: asyncio.AbstractEventLoop) -> asyncio.AbstractEventLoop:
    asyncio.set_event_loop(loop)
    return loop


@loops.register("asyncio")
def build_asyncio_loop() -> asyncio.AbstractEventLoop:
    return _set_current(asyncio.new_event_loop())


@loops.register("uvloop", packages=["uvloop"])
def build_uvloop_loop(uvloop: Any) -> asyncio.AbstractEventLoop:
    return _set_current(uvloop.new_event_loop())


@loops.register("rloop", packages=["rloop"])
def build_rloop_loop(rloop: Any) -> asyncio.AbstractEventLoop:
    return _set_current(rloop.new_event_loop())


@loops.register("auto")
def build_auto_loop() -> asyncio.AbstractEventLoop:
    # Granian's auto tries rloop first; rloop is young, so ours picks the mature uvloop
    # and leaves rloop to an explicit ``--loop rloop`` (documented in the README).
    return loops.get("uvloop" if "uvloop" in loops else "asyncio")
