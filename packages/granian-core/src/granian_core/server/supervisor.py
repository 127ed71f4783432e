"""The main process: sockets, pid file, hooks, signals and worker processes.

Log lines and exit codes follow Granian's (GRANIAN-BEHAVIOUR.md §14): ``run()``
returns 0 after a requested shutdown and 1 when a worker exits unexpectedly
(unless ``--respawn-failed-workers`` replaces it). Everything happens in one
loop (``_supervise``) that waits for a worker to exit, a signal, a file change
(``--reload``) or the next lifetime/memory check. See docs/workers.md.
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
from granian_core.http2.settings import clamped_options
from granian_core.tls import build_ssl_context

from .envfiles import EnvFiles
from .metrics_main import MainMetrics
from .monitors import LifetimeMonitor, RespawnMonitor, build_monitors
from .pidfile import PidFile
from .proctitle import main_title, set_title
from .reload import ChangeWatcher
from .sockets import bind_address, bind_listener, close_listener
from .worker import STOP_SIGNALS, WorkerSpec, run_worker

__all__ = ["Hooks", "Supervisor"]

logger = logging.getLogger("_granian")

#: A worker that fails again this soon after being respawned is crash-looping.
_CRASH_LOOP_SECONDS = 5.5

#: The longest single wait: poll() takes its timeout as a C int of milliseconds, so a
#: wait beyond ~24.8 days (a 30-day --workers-lifetime) raised OverflowError. Longer
#: waits are made of several; each wake-up only re-checks what is due.
_MAX_WAIT_SECONDS = 3600.0

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

    @property
    def pid(self) -> int | None:
        return self.process.pid


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
        #: Snapshots the real environment now: env files never override it.
        self.env_files = EnvFiles(config.env_files)
        #: What decides graceful respawns of healthy workers (lifetime, memory).
        self.monitors: list[RespawnMonitor] = build_monitors(config)
        method = "fork" if sys.platform == "linux" else "spawn"
        self._mp: Any = multiprocessing.get_context(method)
        self._sockets: list[socket.socket] = []
        self._workers: dict[int, _Worker] = {}
        self._reloader: ChangeWatcher | None = None
        self.metrics = MainMetrics(config)
        self._wake_r, self._wake_w = _wakeup_pair()
        self._stop_requested = False
        self._reload_requested = False

    # -- public API -----------------------------------------------------------------------
    def run(self) -> int:
        """Serve until SIGINT/SIGTERM (or ``signal_handler_interrupt``); return the exit code."""
        from granian_core.log import configure_logging

        config = self.config
        configure_logging(config.log_level, config.log_dictconfig, config.log_enabled)
        logger.info("Starting granian (main PID: %s)", os.getpid())
        self._log_options_disabled_by_reload()
        if config.http != "1":
            for warning in clamped_options(config):
                logger.warning(warning)
        pid_file = PidFile(config.pid_file) if config.pid_file else None
        if pid_file is not None:
            pid_file.write()
        code = 1
        if self._wake_r.fileno() < 0:  # run() again: the last one closed the pair
            self._wake_r, self._wake_w = _wakeup_pair()
        self._install_signal_handlers()  # before binding: a signal must never find defaults
        try:
            tls = build_ssl_context(config) is not None  # file errors: one line, before workers
            self._sockets = [bind_listener(config)]
            for sock in self._sockets:
                logger.info("Listening at: %s", _listening_at(sock, tls))
            if self.metrics.wanted:
                self.metrics.start(self._mp)
            set_title(main_title(config, self.target, self._sockets))
            self.env_files.load()
            for hook in self.hooks.startup:
                hook()
            if config.reload:
                self._reloader = ChangeWatcher(config, self._wake)
                self._reloader.start()
            self._spawn_all()
            code = self._supervise()
        finally:
            logger.info("Shutting down granian")
            # Our copy of the listening sockets first: while any process holds one, the
            # kernel keeps accepting connections that no worker will serve (they would
            # hang until the workers are gone, then be reset, instead of being refused).
            self._close_sockets()
            self.metrics.stop()
            if self._reloader is not None:
                self._reloader.stop()
            self._stop_workers(list(self._workers.values()))
            for hook in self.hooks.shutdown:
                hook()
            if pid_file is not None:
                pid_file.remove()
            # A signal after this finds the pair closed: _wake ignores the error.
            self._wake_r.close()
            self._wake_w.close()
        logger.info("Granian shutdown completed, see ya!")
        return code

    def signal_handler_interrupt(self, *_: Any) -> None:
        self._stop_requested = True
        self._wake()

    def signal_handler_reload(self, *_: Any) -> None:
        self._reload_requested = True
        self._wake()

    def _log_options_disabled_by_reload(self) -> None:
        # Granian's behaviour and wording: the reloader respawns everything on its own terms.
        if not self.config.reload:
            return
        if self.config.workers_lifetime is not None:
            logger.info(
                "Workers lifetime is not available in combination with changes reloader, ignoring"
            )
        if self.config.workers_max_rss is not None:
            logger.info(
                "The resource monitor is not available in combination with changes reloader, "
                "ignoring"
            )
        if self.config.metrics_enabled:
            logger.info("Metrics are not available in combination with changes reloader, ignoring")

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
        """Interrupt the supervisor's wait (from a signal handler or the reloader thread)."""
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    def _drain_wakeups(self) -> None:
        with contextlib.suppress(OSError):
            while self._wake_r.recv(4096):
                pass

    def _pause(self, seconds: float) -> None:
        """Sleep, but return early on a stop request: a respawn must not delay shutdown."""
        deadline = time.monotonic() + seconds
        while not self._stop_requested:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            mp_connection.wait([self._wake_r], min(left, _MAX_WAIT_SECONDS))
            self._drain_wakeups()

    # -- the loop -------------------------------------------------------------------------
    def _supervise(self) -> int:
        """Handle events until a stop request (0) or a worker failure that stops us (1)."""
        while not self._stop_requested:
            if self._reload_requested:
                self._reload_requested = False
                self._rolling_restart()
            elif not self._handle_file_changes():
                return 1
            elif due := self._due_respawns():
                for worker_id, monitor in due.items():
                    if not self._stop_requested:
                        self._respawn(worker_id)
                        self._count_graceful_respawn(monitor)
            elif not self._wait_for_events():
                return 1
        return 0

    def _wait_for_events(self) -> bool:
        """Wait for a worker exit, a wake-up or the next monitor check. False: stop (1)."""
        by_sentinel = {w.process.sentinel: w for w in self._workers.values()}
        ready = mp_connection.wait([*by_sentinel, self._wake_r], self._next_check_in())
        self._drain_wakeups()
        for item in ready:
            worker = by_sentinel.get(item) if isinstance(item, int) else None
            if worker is None or self._stop_requested:
                continue
            if not self._on_unexpected_exit(worker):
                return False
        return True

    def _next_check_in(self) -> float | None:
        workers = list(self._workers.values())
        times = [m.next_check_at(workers) for m in self.monitors]
        next_at = min((t for t in times if t is not None), default=None)
        if next_at is None:
            return None
        return min(max(0.0, next_at - time.monotonic()), _MAX_WAIT_SECONDS)

    def _due_respawns(self) -> dict[int, RespawnMonitor]:
        """Workers due for a graceful respawn, each with the (first) monitor that said so."""
        workers = list(self._workers.values())
        now = time.monotonic()
        due: dict[int, RespawnMonitor] = {}
        for monitor in self.monitors:
            for worker_id in monitor.due(workers, now):
                due.setdefault(worker_id, monitor)
        return due

    def _count_graceful_respawn(self, monitor: RespawnMonitor) -> None:
        if isinstance(monitor, LifetimeMonitor):
            self.metrics.counters.respawns_for_lifetime += 1
        else:
            self.metrics.counters.respawns_for_rss += 1

    # -- workers --------------------------------------------------------------------------
    def _spawn_all(self) -> None:
        for worker_id in range(1, self.config.workers + 1):
            if self._stop_requested:
                return
            self._spawn(worker_id)

    def _spawn(self, worker_id: int, respawned: bool = False) -> _Worker:
        spec = WorkerSpec(
            config=self.config,
            target=self.target,
            worker_id=worker_id,
            sockets=self._sockets,
            target_loader=self.target_loader,
            metrics=self.metrics.claim(worker_id),
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
        self.metrics.counters.spawns += 1
        worker = _Worker(worker_id, process, time.monotonic(), respawned)
        self._workers[worker_id] = worker
        return worker

    def _on_unexpected_exit(self, worker: _Worker) -> bool:
        """Log a crashed worker; respawn it if allowed. False means: stop the server."""
        worker.process.join()
        del self._workers[worker.worker_id]
        self.metrics.clear(worker.worker_id)
        logger.error("Unexpected exit from worker-%d", worker.worker_id)
        if self._reloader is not None and self.config.reload_ignore_worker_failure:
            return True  # the next file change spawns it again
        if not self.config.respawn_failed_workers:
            return False
        if worker.respawned and time.monotonic() - worker.started_at < _CRASH_LOOP_SECONDS:
            logger.error("Worker crash loop detected, exiting")  # Granian's words
            return False
        logger.info("Respawning worker-%d", worker.worker_id)
        self._spawn(worker.worker_id, respawned=True)
        self.metrics.counters.respawns_for_err += 1
        return True

    def _respawn(self, worker_id: int) -> None:
        """Graceful rolling respawn: start the successor, wait ``--respawn-interval``, then
        stop the old worker (honouring ``--workers-kill-timeout``)."""
        old = self._workers.get(worker_id)
        logger.info("Respawning worker-%d", worker_id)
        self._spawn(worker_id, respawned=True)
        if old is None:  # it had crashed (--reload-ignore-worker-failure)
            return
        self._pause(self.config.respawn_interval)
        self._stop_workers([old], "old ")

    def _rolling_restart(self) -> None:
        """SIGHUP: re-read env files, run reload hooks, respawn each worker in turn."""
        logger.info("HUP signal received, gracefully respawning workers..")  # Granian's words
        self._before_reload()
        for worker_id in range(1, self.config.workers + 1):
            if self._stop_requested:
                return
            self._respawn(worker_id)

    def _handle_file_changes(self) -> bool:
        """--reload: on changes, reload env files, run reload hooks, replace all workers.

        False when the watcher failed (the server stops: it could not reload any more).
        """
        reloader = self._reloader
        if reloader is None:
            return True
        if reloader.error is not None:
            logger.error("The reloader failed: %s", reloader.error)
            return False
        changes = reloader.take_changes()
        if not changes:
            return True
        logger.info("Changes detected, reloading workers..")
        for line in changes:
            logger.info("%s", line)
        self._before_reload()
        self._stop_workers(list(self._workers.values()))
        self._workers.clear()
        self._spawn_all()
        return True

    def _before_reload(self) -> None:
        """What a reload (SIGHUP or file changes) does before new workers start."""
        self.env_files.load()
        for hook in self.hooks.reload:
            hook()

    def _stop_workers(self, workers: list[_Worker], prefix: str = "") -> None:
        """SIGTERM, then wait (SIGKILL after ``--workers-kill-timeout``)."""
        for worker in workers:
            logger.info("Stopping %sworker-%d", prefix, worker.worker_id)
            if worker.process.is_alive():
                worker.process.terminate()
        timeout = self.config.workers_kill_timeout
        for worker in workers:
            worker.process.join(timeout)
            if worker.process.is_alive():
                logger.warning(
                    "Killing %sworker-%d after it refused to gracefully stop (%ss)",
                    prefix,
                    worker.worker_id,
                    timeout,
                )
                worker.process.kill()
                worker.process.join()
            logger.info("Stopped %sworker-%d", prefix, worker.worker_id)


def _wakeup_pair() -> tuple[socket.socket, socket.socket]:
    """A non-blocking socket pair: a byte written to the second ends the supervisor's wait."""
    reader, writer = socket.socketpair()
    reader.setblocking(False)
    writer.setblocking(False)
    return reader, writer


def _listening_at(sock: socket.socket, tls: bool) -> str:
    """The address of Granian's ``Listening at`` line: a scheme even for a Unix socket
    (``http://unix:/run/app.sock``), as Granian writes it."""
    return f"{'https' if tls else 'http'}://{bind_address(sock)}"
