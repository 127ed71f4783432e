"""The ``Interface`` contract and the entry-point registry of adapters.

An interface adapter (ASGI, RSGI, WSGI, or a third party's) is a subclass of
:class:`Interface`, published under the entry-point group
``granian.interfaces``::

    [project.entry-points."granian.interfaces"]
    asgi = "granian_asgi:ASGIInterface"

The core looks adapters up by name here and never imports one directly.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, ClassVar

from .errors import ConfigurationError, FatalError

if TYPE_CHECKING:
    from .blocking import BlockingPool
    from .config import ServerConfig
    from .exchange import HTTPExchange
    from .websocket import WebSocketSession

__all__ = [
    "ENTRY_POINT_GROUP",
    "Interface",
    "StartupFailed",
    "WorkerContext",
    "available_interfaces",
    "load_interface",
]

ENTRY_POINT_GROUP = "granian.interfaces"

#: The order Granian lists its interfaces in; third-party names follow, sorted.
_KNOWN_ORDER = ("asgi", "asginl", "rsgi", "wsgi")


class StartupFailed(FatalError):
    """Raised by :meth:`Interface.startup` to stop the worker (non-zero exit) with a message.

    A :class:`FatalError`, so code embedding the server catches it as Granian's own.
    """


@dataclass(slots=True)
class WorkerContext:
    """What a worker offers its interface adapter."""

    config: ServerConfig
    loop: asyncio.AbstractEventLoop
    worker_id: int = 1
    #: Pool of blocking threads (``--blocking-threads``), created on first use.
    _blocking_pool: BlockingPool | None = field(default=None, repr=False)

    @property
    def blocking_pool(self) -> BlockingPool:
        if self._blocking_pool is None:
            from .blocking import BlockingPool

            self._blocking_pool = BlockingPool(
                max_threads=self.config.resolved_blocking_threads(),
                idle_timeout=self.config.blocking_threads_idle_timeout,
            )
        return self._blocking_pool


class Interface(abc.ABC):
    """One adapter instance per worker, wrapping the loaded application object.

    Lifecycle, in order: ``setup(loop)`` (loop not running yet), ``await startup()``,
    then ``handle_http``/``handle_websocket`` per request, ``await shutdown()``
    once the worker stops accepting, and ``teardown(loop)`` with the loop stopped.
    """

    #: Whether the adapter serves WebSocket sessions (``handle_websocket``).
    supports_websockets: ClassVar[bool] = False
    #: Whether the app runs on blocking threads (``--blocking-threads`` > 1 allowed).
    blocking: ClassVar[bool] = False

    def __init__(self, app: Any, context: WorkerContext) -> None:
        self.app = app
        self.context = context

    def setup(self, loop: asyncio.AbstractEventLoop) -> None:  # noqa: B027 - optional hook
        """Synchronous init with the loop not running (RSGI ``__rsgi_init__``)."""

    async def startup(self) -> None:  # noqa: B027 - optional hook
        """Async init before serving (ASGI lifespan). Raise :class:`StartupFailed` to abort."""

    async def shutdown(self) -> None:  # noqa: B027 - optional hook
        """Async cleanup after the worker stopped serving."""

    def teardown(self, loop: asyncio.AbstractEventLoop) -> None:  # noqa: B027 - optional hook
        """Synchronous cleanup with the loop stopped (RSGI ``__rsgi_del__``)."""

    @abc.abstractmethod
    def handle_http(self, exchange: HTTPExchange) -> Awaitable[None]:
        """Serve one HTTP request. Returns an awaitable the core runs as a task.

        If it raises before a response started, the core answers 500 and logs
        ``Application callable raised an exception``; after, it drops the
        connection. If it returns without any response, the core logs
        ``Application callable returned without sending a response`` and answers
        500 ``Internal server error``; with a response started but not ended, it
        logs ``...without completing its response`` and drops the connection.
        """

    def start_http(self, exchange: HTTPExchange) -> asyncio.Future[None] | None:
        """Optional: start serving ``exchange`` without a task, or return None.

        Called first for every request. An adapter that hands its work elsewhere
        (a blocking thread) can start it here and return a future of the running
        loop that it completes once the request is served: the core then makes no
        task, and applies to the future's outcome the rules of :meth:`handle_http`
        (a cancelled future aborts the exchange; the adapter must then leave it
        alone). Raising here counts as the app raising. ``None`` (the default)
        means: serve this request through :meth:`handle_http`.
        """
        return None

    def handle_websocket(self, session: WebSocketSession) -> Awaitable[None]:
        """Serve one WebSocket session (only when ``supports_websockets``)."""
        raise NotImplementedError


def _entry_points() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available_interfaces() -> list[str]:
    """Names of the installed interface adapters, Granian's four first."""
    names = set(_entry_points())
    known = [name for name in _KNOWN_ORDER if name in names]
    return known + sorted(names.difference(_KNOWN_ORDER))


def load_interface(name: str) -> type[Interface]:
    """The adapter class registered under ``name``."""
    eps = _entry_points()
    if name not in eps:
        installed = ", ".join(available_interfaces()) or "none"
        raise ConfigurationError(
            f"Interface {name!r} is not installed (installed interfaces: {installed})"
        )
    cls = eps[name].load()
    if not (isinstance(cls, type) and issubclass(cls, Interface)):
        raise ConfigurationError(f"Entry point {name!r} does not name an Interface subclass")
    return cls
