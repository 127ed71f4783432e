"""``MPServer``: the ``Granian`` class, serving with worker processes."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from granian_core.server.supervisor import Supervisor

from granian.constants import HTTPModes, Interfaces, Loops, RuntimeModes, SSLProtocols, TaskImpl
from granian.http import HTTP1Settings, HTTP2Settings
from granian.log import LogLevels

from .common import AbstractServer

__all__ = ["MPServer"]


class MPServer(AbstractServer):
    """Granian's server API: ``Granian("main:app", interface="asgi").serve()``.

    Every keyword argument is an option of ``granian_core.config.ServerConfig``
    (``http1_settings``/``http2_settings`` group the ``http1_*``/``http2_*`` ones).
    """

    def __init__(  # noqa: PLR0917 - Granian's signature accepts positional arguments
        self,
        target: str,
        address: str = "127.0.0.1",
        port: int = 8000,
        uds: Path | None = None,
        uds_permissions: int | None = None,
        interface: Interfaces | str = Interfaces.RSGI,
        workers: int = 1,
        blocking_threads: int | None = None,
        blocking_threads_idle_timeout: int = 30,
        runtime_threads: int = 1,
        runtime_blocking_threads: int | None = None,
        runtime_mode: RuntimeModes | str = RuntimeModes.auto,
        loop: Loops | str = Loops.auto,
        task_impl: TaskImpl | str = TaskImpl.asyncio,
        http: HTTPModes | str = HTTPModes.auto,
        websockets: bool = True,
        backlog: int = 1024,
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
        respawn_failed_workers: bool = False,
        respawn_interval: float = 3.5,
        rss_sample_interval: int = 30,
        rss_samples: int = 1,
        workers_lifetime: int | None = None,
        workers_max_rss: int | None = None,
        workers_kill_timeout: int | None = None,
        factory: bool = False,
        working_dir: Path | None = None,
        env_files: Sequence[Path] | None = None,
        static_path_route: Sequence[str] | None = None,
        static_path_mount: Sequence[Path] | None = None,
        static_path_dir_to_file: str | None = None,
        static_path_expires: int = 86400,
        metrics_enabled: bool = False,
        metrics_scrape_interval: int = 15,
        metrics_address: str = "127.0.0.1",
        metrics_port: int = 9090,
        reload: bool = False,
        reload_paths: Sequence[Path] | None = None,
        reload_ignore_dirs: Sequence[str] | None = None,
        reload_ignore_patterns: Sequence[str] | None = None,
        reload_ignore_paths: Sequence[Path] | None = None,
        reload_filter: type | None = None,
        reload_tick: int = 50,
        reload_ignore_worker_failure: bool = False,
        process_name: str | None = None,
        pid_file: Path | None = None,
        http1_parser: str = "auto",
    ) -> None:
        # Every keyword argument is an option: hand them over by name (a test checks the
        # signature against the option table, so the two cannot drift apart).
        options = dict(locals())
        for name in ("self", "target", "__class__"):
            options.pop(name, None)
        super().__init__(target, options)
        self._supervisor: Supervisor | None = None
        self._pending_signal: str | None = None

    def serve(
        self,
        spawn_target: Callable[..., None] | None = None,
        target_loader: Callable[..., Any] | None = None,
        wrap_loader: bool = True,
    ) -> None:
        """Serve until SIGINT/SIGTERM. Exits the process with status 1 if a worker failed.

        ``target_loader(target)`` replaces the import of the target in each worker
        (called with no argument when ``wrap_loader`` is false); ``spawn_target``
        replaces the worker entry point (called with a ``WorkerSpec``).
        """
        extra: dict[str, Any] = {} if spawn_target is None else {"worker_entry": spawn_target}
        supervisor = Supervisor(
            self.config,
            self.target,
            hooks=self.hooks,
            target_loader=_loader(target_loader, wrap_loader),
            **extra,
        )
        self._supervisor = supervisor
        if self._pending_signal == "interrupt":
            supervisor.signal_handler_interrupt()
        code = supervisor.run()
        if code:
            sys.exit(code)

    def signal_handler_interrupt(self, *args: Any, **kwargs: Any) -> None:
        """Stop serving (what SIGINT/SIGTERM do)."""
        if self._supervisor is None:
            self._pending_signal = "interrupt"
            return
        self._supervisor.signal_handler_interrupt()

    def signal_handler_reload(self, *args: Any, **kwargs: Any) -> None:
        """Gracefully respawn the workers (what SIGHUP does)."""
        if self._supervisor is not None:
            self._supervisor.signal_handler_reload()


def _loader(
    target_loader: Callable[..., Any] | None, wrap_loader: bool
) -> Callable[[str], Any] | None:
    if target_loader is None or wrap_loader:
        return target_loader
    return _NoArgumentLoader(target_loader)


class _NoArgumentLoader:
    """Calls a loader that takes no argument (``wrap_loader=False``); picklable."""

    def __init__(self, loader: Callable[[], Any]) -> None:
        self.loader = loader

    def __call__(self, target: str) -> Any:
        return self.loader()
