"""Serve an app object on the caller's running loop: no processes, no signals.

This is how a framework serves its app from Python with only granian-core and
one adapter installed::

    server = EmbeddedServer(app, ServerConfig(interface="asgi", port=8000))
    await server.serve()        # until server.stop()
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from typing import Any

from granian_core.config import ServerConfig
from granian_core.errors import ConfigurationError
from granian_core.interface import Interface, load_interface
from granian_core.tls import build_ssl_context

from .sockets import bind_listener, close_listener, describe
from .supervisor import Hooks
from .worker import WorkerServer, build_interface, serve_interface

__all__ = ["EmbeddedServer"]

logger = logging.getLogger("_granian")


#: Options only a main process with worker processes can honour (Granian's embedded
#: server has no parameter for them): refused rather than ignored.
SUPERVISOR_ONLY_OPTIONS = (
    "reload",
    "workers_lifetime",
    "workers_max_rss",
    "respawn_failed_workers",
    "workers_kill_timeout",
    "process_name",
    "env_files",
    "pid_file",
    "metrics_enabled",
)


def check_embeddable(config: ServerConfig) -> None:
    """Refuse a configuration the embedded server (one worker, no processes) cannot honour."""
    if config.workers != 1:
        raise ConfigurationError("The embedded server runs exactly one worker")
    for name in SUPERVISOR_ONLY_OPTIONS:
        option = ServerConfig.option(name)
        if getattr(config, name) != option.default:
            raise ConfigurationError(
                f"{option.flag or name} is not supported by the embedded server "
                "(it runs no worker processes)"
            )


class EmbeddedServer:
    """One worker run as a coroutine on the current loop."""

    def __init__(
        self,
        app: Any,
        config: ServerConfig | None = None,
        hooks: Hooks | None = None,
        interface_cls: type[Interface] | None = None,
    ) -> None:
        self.config = config or ServerConfig()
        self.app = app
        self.hooks = hooks or Hooks()
        self.interface_cls = interface_cls or load_interface(self.config.interface)
        self.sockets: list[socket.socket] = []
        self.ssl_context: ssl.SSLContext | None = None
        #: The worker currently serving (a new one after each reload).
        self.worker: WorkerServer | None = None
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_requested = False
        self._reload_requested = False
        #: Between the start of :meth:`serve` and its return.
        self.serving = False

    @property
    def bound(self) -> list[str]:
        """``http://host:port`` of each listening socket, once serving."""
        tls = self.ssl_context is not None
        return [describe(sock, tls) for sock in self.sockets]

    @property
    def port(self) -> int:
        return int(self.sockets[0].getsockname()[1])

    async def serve(self) -> None:
        """Bind, run the app's startup, serve until :meth:`stop`, then shut down."""
        if self.serving:
            raise RuntimeError("serve() is already running")
        self.serving = True
        try:
            await self._serve()
        finally:
            self.serving = False

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        if self._stop_requested:
            self._stop.set()
        for hook in self.hooks.startup:
            hook()
        self.ssl_context = build_ssl_context(self.config)
        check_embeddable(self.config)
        self.sockets = [bind_listener(self.config)]
        for addr in self.bound:
            logger.info("Listening at: %s", addr)
        try:
            while True:
                await self._serve_once()
                # A stop() wins over a reload() asked for in the same moment.
                if self._stop_requested or not self._reload_requested:
                    break
                self._reload_requested = False
                self._stop.clear()
                for hook in self.hooks.reload:
                    hook()
        finally:
            for sock in self.sockets:
                close_listener(sock)
            for hook in self.hooks.shutdown:
                hook()

    async def _serve_once(self) -> None:
        assert self._loop is not None
        assert self._stop is not None
        interface = build_interface(self.config, self.app, self._loop, self.interface_cls)
        interface.setup(self._loop)
        # A worker closes its listening sockets when it stops; after a reload the next
        # one must still have them, so each worker gets duplicates of ours.
        sockets = [sock.dup() for sock in self.sockets]
        server = self.worker = WorkerServer(self.config, interface, sockets, self.ssl_context)
        try:
            await serve_interface(interface, server, self._stop)
        finally:
            # The worker closes them once it served; not if the app's startup failed (the
            # kernel would go on accepting connections nobody serves). Closing is idempotent.
            for sock in sockets:
                sock.close()
            interface.teardown(self._loop)

    def stop(self) -> None:
        """Ask the server to stop (thread-safe; returns at once)."""
        self._stop_requested = True
        self._set_stop()

    def reload(self) -> None:
        """Restart the worker (new interface instance, same sockets)."""
        self._reload_requested = True
        self._set_stop()

    def _set_stop(self) -> None:
        if self._loop is None or self._stop is None or self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._stop.set)
