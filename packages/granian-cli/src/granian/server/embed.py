"""Granian's embeddable server (``granian.server.embed.Server``).

Serves an application *object* as a task on the caller's running loop: no
processes, no signal handlers::

    server = Server(app, interface="asgi")
    task = asyncio.create_task(server.serve())
    ...
    server.stop()
    await task
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from granian_core.errors import ConfigurationError
from granian_core.interface import load_interface
from granian_core.server.embed import EmbeddedServer

from granian.constants import HTTPModes, Interfaces, SSLProtocols, TaskImpl
from granian.http import HTTP1Settings, HTTP2Settings
from granian.log import LogLevels

from .common import AbstractServer

__all__ = ["Server"]


class Server(AbstractServer):
    """One worker serving ``target`` (the app, or its factory) on the current loop."""

    def __init__(  # noqa: PLR0917 - Granian's signature accepts positional arguments
        self,
        target: Any,
        address: str = "127.0.0.1",
        port: int = 8000,
        uds: Path | None = None,
        interface: Interfaces | str = Interfaces.RSGI,
        blocking_threads: int | None = None,
        blocking_threads_idle_timeout: int = 30,
        runtime_threads: int = 1,
        runtime_blocking_threads: int | None = None,
        task_impl: TaskImpl | str = TaskImpl.asyncio,
        http: HTTPModes | str = HTTPModes.auto,
        websockets: bool = True,
        backlog: int = 128,
        backpressure: int | None = None,
        http1_settings: HTTP1Settings | None = None,
        http2_settings: HTTP2Settings | None = None,
        log_enabled: bool = True,
        log_level: LogLevels | str = LogLevels.info,
        log_dictconfig: dict[str, Any] | None = None,
        log_access: bool = False,
        log_access_format: str | None = None,
        ssl_cert: Path | None = None,
        ssl_key: Path | None = None,
        ssl_key_password: str | None = None,
        ssl_protocol_min: SSLProtocols | str = SSLProtocols.tls13,
        ssl_ca: Path | None = None,
        ssl_crl: Sequence[Path] | None = None,
        ssl_client_verify: bool = False,
        url_path_prefix: str | None = None,
        factory: bool = False,
        static_path_route: Sequence[str] | None = None,
        static_path_mount: Sequence[Path] | None = None,
        static_path_dir_to_file: str | None = None,
        static_path_expires: int = 86400,
        http1_parser: str = "auto",
    ) -> None:
        options = dict(locals())
        for name in ("self", "target", "__class__"):
            options.pop(name, None)
        super().__init__(target, options)
        self._server: EmbeddedServer | None = None
        self._stop_requested = False

    async def serve(self, spawn_target: Callable[..., Any] | None = None) -> None:
        """Serve until :meth:`stop`; returns after a graceful shutdown.

        ``spawn_target`` (Granian's hook to run the worker its own way) has no meaning
        for a server that runs on the caller's loop: it is refused, not ignored.
        """
        if spawn_target is not None:
            raise ConfigurationError(
                "The embedded server does not take a spawn_target: it runs on this loop"
            )
        if self._server is not None and self._server.serving:
            raise ConfigurationError("This server is already serving: stop() it first")
        if load_interface(self.config.interface).blocking:
            raise ConfigurationError(
                f"The embedded server does not support the {self.config.interface!r} "
                "interface: it serves async interfaces only"
            )
        app = self.target() if self.config.factory else self.target
        server = EmbeddedServer(app, self.config, hooks=self.hooks)
        self._server = server
        if self._stop_requested:
            server.stop()
        await server.serve()

    def stop(self) -> None:
        """Ask the server to stop (returns at once; ``serve()`` then finishes)."""
        self._stop_requested = True
        if self._server is not None:
            self._server.stop()

    def reload(self) -> None:
        """Restart the worker on the same sockets (runs the reload hooks)."""
        if self._server is not None:
            self._server.reload()

    def signal_handler_interrupt(self, *args: Any, **kwargs: Any) -> None:
        self.stop()

    def signal_handler_reload(self, *args: Any, **kwargs: Any) -> None:
        self.reload()
