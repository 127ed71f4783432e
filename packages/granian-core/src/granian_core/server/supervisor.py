"""The main process: sockets, pid file, hooks, signals and worker processes.

Log lines and exit codes follow Granian's (GRANIAN-BEHAVIOUR.md §14): ``run()``
returns 0 after a requested shutdown and 1 when a worker exits unexpectedly
(unless ``--respawn-failed-workers`` replaces it).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing import connection as mp_connection
from multiprocessing.process import BaseProcess
from typing import Any

from granian_core.config import ServerConfig
from granian_core.tls import build_ssl_context

from .pidfile import PidFile
from .sockets import bind_listener, close_listener, describe
from .worker import STOP_SIGNALS, WorkerSpec, run_worker

__all__ = ["Hooks", "Supervisor"]

logger = logging.getLogger("_granian")

#: A worker that fails again this soon after being respawned is crash-looping.
_CRASH_LOOP_SECONDS = 5.5

Hook = Callable[[], Any]


@dataclass
class Hooks:
    """Zero-argument callables run in the main process (Granian's lifecycle hooks)."""

    startup: list[Hook] = field(default_factory=list)
    shutdown: list[Hook] = field(default_factory=list)
    reload: list[Hook] = field(default_factory=list)


@dataclass
class _Worker:
    worker_id: int
    process: BaseProcess
    started_at: float
    respawned: bool = False


class Supervisor:
    """Runs ``config.workers`` worker processes serving ``target`` until signalled."""

    def __init__(
        self,
        config: ServerConfig,
        target: str | Any,
        hooks: Hooks | None = None,
        target_loader: Callable[[str], Any] | None = None,
        worker_entry: Callable[[WorkerSpec], None] = run_worker,
    ) -> None:
        self.config = config
        self.target = target
        self.hooks = hooks or Hooks()
        self.target_loader = target_loader
        self.worker_entry = worker_entry
        method = "fork" if sys.platform == "linux" else "spawn"
        self._mp: Any = multiprocessing.get_context(method)
        self._sockets: list[socket.socket] = []
        self._workers: dict[int, _Worker] = {}
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._stop_requested = False
        self._reload_requested = False

    # -- public API -----------------------------------------------------------------------
    def run(self) -> int:
        """Serve until SIGINT/SIGTERM (or ``signal_handler_interrupt``); return the exit code."""
        from granian_core.log import configure_logging

        config = self.config
        configure_logging(config.log_level, config.log_dictconfig, config.log_enabled)
        logger.info("Starting granian (main PID: %s)", os.getpid())
        pid_file = PidFile(config.pid_file) if config.pid_file else None
        if pid_file is not None:
            pid_file.write()
        code = 1
        self._install_signal_handlers()  # before binding: a signal must never find defaults
        try:
            tls = build_ssl_context(config) is not None  # file errors: one line, before workers
            self._sockets = [bind_listener(config)]
            for sock in self._sockets:
                logger.info("Listening at: %s", describe(sock, tls))
            for hook in self.hooks.startup:
                hook()
            for worker_id in range(1, config.workers + 1):
                if self._stop_requested:
                    break
                self._spawn(worker_id)
            code = self._supervise()
        finally:
            logger.info("Shutting down granian")
            self._stop_workers(list(self._workers.values()))
            self._close_sockets()
            for hook in self.hooks.shutdown:
                hook()
            if pid_file is not None:
                pid_file.remove()
        logger.info("Granian shutdown completed, see ya!")
        return code

    def signal_handler_interrupt(self, *_: Any) -> None:
        self._stop_requested = True
        self._wake()

    def signal_handler_reload(self, *_: Any) -> None:
        self._reload_requested = True
        self._wake()

    # -- sockets ------------------------------------------------------------------------
    def _close_sockets(self) -> None:
        for sock in self._sockets:
            close_listener(sock)
        self._sockets = []

    # -- signals --------------------------------------------------------------------------
    def _install_signal_handlers(self) -> None:
        signal.signal(signal.SIGINT, self.signal_handler_interrupt)
        signal.signal(signal.SIGTERM, self.signal_handler_interrupt)
        if hasattr(signal, "SIGHUP"):
            signal.signal(signal.SIGHUP, self.signal_handler_reload)

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    def _drain_wakeups(self) -> None:
        with contextlib.suppress(OSError):
            while self._wake_r.recv(4096):
                pass

    # -- workers --------------------------------------------------------------------------
    def _spawn(self, worker_id: int, respawned: bool = False) -> _Worker:
        spec = WorkerSpec(
            config=self.config,
            target=self.target,
            worker_id=worker_id,
            sockets=self._sockets,
            target_loader=self.target_loader,
        )
        process = self._mp.Process(
            name="granian-worker", target=self.worker_entry, args=(spec,), daemon=False
        )
        # Until the child has replaced the handlers it inherits, a stop signal must wait
        # (blocked) rather than run our handler in the child and be lost there.
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        logger.info("Spawning worker-%d with PID: %s", worker_id, process.pid)
        worker = _Worker(worker_id, process, time.monotonic(), respawned)
        self._workers[worker_id] = worker
        return worker

    def _supervise(self) -> int:
        while True:
            if self._stop_requested:
                return 0
            if self._reload_requested:
                self._reload_requested = False
                self._rolling_restart()
                continue
            by_sentinel = {w.process.sentinel: w for w in self._workers.values()}
            ready = mp_connection.wait([*by_sentinel, self._wake_r])
            self._drain_wakeups()
            for item in ready:
                worker = by_sentinel.get(item) if isinstance(item, int) else None
                if worker is None or self._stop_requested:
                    continue
                if not self._on_unexpected_exit(worker):
                    return 1

    def _on_unexpected_exit(self, worker: _Worker) -> bool:
        """Log a crashed worker; respawn it if allowed. False means: stop the server."""
        worker.process.join()
        del self._workers[worker.worker_id]
        logger.error("Unexpected exit from worker-%d", worker.worker_id)
        if not self.config.respawn_failed_workers:
            return False
        if worker.respawned and time.monotonic() - worker.started_at < _CRASH_LOOP_SECONDS:
            logger.error("worker-%d is crash-looping: stopping", worker.worker_id)
            return False
        self._spawn(worker.worker_id, respawned=True)
        return True

    def _rolling_restart(self) -> None:
        """SIGHUP: replace each worker by a fresh one, one at a time."""
        logger.info("Reloading granian")
        for hook in self.hooks.reload:
            hook()
        for old in list(self._workers.values()):
            self._spawn(old.worker_id)
            time.sleep(self.config.respawn_interval)
            self._stop_workers([old])

    def _stop_workers(self, workers: list[_Worker]) -> None:
        for worker in workers:
            logger.info("Stopping worker-%d", worker.worker_id)
            if worker.process.is_alive():
                worker.process.terminate()
        timeout = self.config.workers_kill_timeout
        for worker in workers:
            worker.process.join(timeout)
            if worker.process.is_alive():
                logger.warning("Killing worker-%d after %ss", worker.worker_id, timeout)
                worker.process.kill()
                worker.process.join()
            logger.info("Stopped worker-%d", worker.worker_id)
