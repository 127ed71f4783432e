"""One worker: serve an interface on listening sockets until told to stop.

``WorkerServer.serve`` runs on an already running loop (the embedded server
uses it directly); ``run_worker`` is the entry point of a worker process: it
builds the loop, loads the app and drives the interface's lifecycle.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import ssl
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from granian_core.config import ServerConfig
from granian_core.errors import FatalError
from granian_core.http1 import H1Protocol
from granian_core.http2 import H2Protocol
from granian_core.http2.alpn import ALPNProtocol
from granian_core.interface import Interface, StartupFailed, WorkerContext, load_interface
from granian_core.tls import TLS_HANDSHAKE_TIMEOUT, build_ssl_context

from .acceptor import Acceptor
from .metrics_slots import MetricsSlot
from .metrics_worker import MetricsPublisher, WorkerSampler
from .state import WorkerState

__all__ = ["WorkerServer", "WorkerSpec", "build_interface", "run_worker"]

logger = logging.getLogger("_granian")

#: Exit codes of a worker process, read by the supervisor.
EXIT_OK = 0
#: Seconds an orphaned worker (its supervisor died) keeps shutting down gracefully before
#: it exits anyway, unless --workers-kill-timeout says otherwise: no one else will stop it.
ORPHAN_GRACE_SECONDS = 30.0
EXIT_STARTUP_FAILED = 3
#: Signals that stop or reload; blocked around forking a worker.
STOP_SIGNALS = frozenset(
    {signal.SIGINT, signal.SIGTERM} | ({signal.SIGHUP} if hasattr(signal, "SIGHUP") else set())
)
#: After the last handler finished, how long responses may still take to flush on shutdown.
FLUSH_GRACE_SECONDS = 10.0


class WorkerServer:
    """Accept loops + connection state for one worker on the running loop."""

    def __init__(
        self,
        config: ServerConfig,
        interface: Interface,
        sockets: list[socket.socket],
        ssl_context: ssl.SSLContext | None = None,
        handshake_timeout: float = TLS_HANDSHAKE_TIMEOUT,
        *,
        metrics_slot: MetricsSlot | None = None,
    ) -> None:
        self.config = config
        self.interface = interface
        self.sockets = sockets
        self.ssl_context = ssl_context
        self.handshake_timeout = handshake_timeout
        #: Where to copy this worker's metrics (--metrics); None: nothing is exported.
        self.metrics_slot = metrics_slot
        self.state: WorkerState | None = None
        self._acceptors: list[Acceptor] = []
        self._publisher: MetricsPublisher | None = None

    async def serve(self, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set, then shut down gracefully."""
        loop = asyncio.get_running_loop()
        state = WorkerState(self.config, self.interface, loop, _access_logger(self.config))
        self.state = state
        tls = self.ssl_context is not None
        factory = _protocol_factory(self.config, state, tls)
        timeout = self.handshake_timeout if tls else None
        self._acceptors = [
            Acceptor(loop, sock, factory, self.ssl_context, timeout) for sock in self.sockets
        ]
        state.on_saturation = self._on_saturation
        for acceptor in self._acceptors:
            acceptor.start()
        self._start_publishing(loop, state)
        try:
            await stop.wait()
        finally:
            await self._shutdown(state)

    def _start_publishing(self, loop: asyncio.AbstractEventLoop, state: WorkerState) -> None:
        if self.metrics_slot is None:
            return
        sampler = WorkerSampler(state, self._acceptors, self.interface)
        self._publisher = MetricsPublisher(loop, self.metrics_slot, sampler)
        self._publisher.start()

    def _on_saturation(self, saturated: bool) -> None:
        for acceptor in self._acceptors:
            if saturated:
                acceptor.pause()
            else:
                acceptor.resume()

    async def _shutdown(self, state: WorkerState) -> None:
        if self._publisher is not None:
            self._publisher.stop()
        for acceptor in self._acceptors:
            acceptor.close()
        state.stopping = True
        for conn in list(state.connections):
            conn.shutdown()
        await state.wait_handlers()
        # Finished responses may still be flushing to slow readers: give them a bounded grace.
        deadline = asyncio.get_running_loop().time() + FLUSH_GRACE_SECONDS
        while state.connections and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        for conn in list(state.connections):
            conn.abort()
        state.close()


def _protocol_factory(
    config: ServerConfig, state: WorkerState, tls: bool
) -> Callable[[], asyncio.Protocol]:
    """The protocol for each new connection, by ``--http`` and TLS.

    ``--http 2`` speaks h2 only (prior knowledge, or "h2" by ALPN). ``auto`` over TLS
    decides once the handshake chose a protocol by ALPN; ``auto`` on cleartext starts
    as HTTP/1, which switches itself to h2 when a client opens with the h2 preface.

    The protocols are imported with this module, not here: a server run in a thread
    (the embeddable Server) would import h2 and hpack there for the first time, and
    a first import of the same package racing it in another thread (``httpx.Client()``
    imports h2) can see hpack half-initialised.
    """

    def http1() -> asyncio.Protocol:
        return H1Protocol(state)

    def http2() -> asyncio.Protocol:
        return H2Protocol(state)

    def negotiated() -> asyncio.Protocol:
        return ALPNProtocol(state, http1)

    if config.http == "2":
        return http2
    if config.http == "auto" and tls:
        return negotiated
    return http1


def _access_logger(config: ServerConfig) -> Any:
    if not (config.log_access and config.log_enabled):
        return None
    from granian_core.log import AccessLogger

    return AccessLogger(config.log_access_format)


def build_interface(
    config: ServerConfig,
    app: Any,
    loop: asyncio.AbstractEventLoop,
    interface_cls: type[Interface] | None = None,
    worker_id: int = 1,
) -> Interface:
    """The worker's interface: the adapter, behind the static routes when mounts are set."""
    from granian_core.static import with_static_files

    cls = interface_cls or load_interface(config.interface)
    interface = cls(app, WorkerContext(config=config, loop=loop, worker_id=worker_id))
    return with_static_files(interface, config)


async def serve_interface(
    interface: Interface,
    server: WorkerServer,
    stop: asyncio.Event,
    started: Callable[[], None] | None = None,
) -> None:
    """Startup, serve until ``stop``, shutdown: the interface's whole async life.

    ``started`` is called once startup succeeded, before serving.
    """
    await interface.startup()
    if started is not None:
        started()
    try:
        await server.serve(stop)
    finally:
        await interface.shutdown()
        pool = interface.context._blocking_pool
        if pool is not None:
            pool.shutdown(wait=False)


@dataclass
class WorkerSpec:
    """Everything a worker process needs; picklable for the spawn start method."""

    config: ServerConfig
    target: str
    worker_id: int
    sockets: list[socket.socket]
    target_loader: Callable[[str], Any] | None = None
    #: This worker's metrics row (--metrics), else None.
    metrics: MetricsSlot | None = None


def run_worker(spec: WorkerSpec) -> None:
    """Worker process entry point. Exits with a code the supervisor understands."""
    from granian_core.log import configure_logging
    from granian_core.loops import loops

    from .envfiles import load_env_files_in_worker
    from .heap import freeze_startup_heap, prime_malloc_thresholds
    from .proctitle import set_title, worker_title

    _reset_inherited_signals()
    _exit_with_parent()
    config = spec.config
    set_title(worker_title(config, spec.target, spec.sockets, spec.worker_id))
    configure_logging(config.log_level, config.log_dictconfig, config.log_enabled)
    name = f"worker-{spec.worker_id}"
    try:
        load_env_files_in_worker(config.env_files)
        loop = loops.get(config.loop)
        app = _load_app(spec)
        # An SSLContext cannot cross a process boundary: each worker builds its own
        # (the supervisor built one first, so file errors were reported there).
        ssl_context = build_ssl_context(config)
        interface = build_interface(config, app, loop, worker_id=spec.worker_id)
        interface.setup(loop)
        freeze_startup_heap()
        prime_malloc_thresholds()
    except FatalError as exc:
        logger.error("%s", exc)
        sys.exit(EXIT_STARTUP_FAILED)
    except Exception:
        logger.exception("%s failed to start", name)
        sys.exit(EXIT_STARTUP_FAILED)

    stop = asyncio.Event()
    server = WorkerServer(config, interface, spec.sockets, ssl_context, metrics_slot=spec.metrics)
    code = EXIT_OK
    try:
        # "Started" once the app's startup (ASGI lifespan) succeeded: never before a
        # failure, as in Granian.
        started = partial(logger.info, "Started %s", name)
        grace = float(config.workers_kill_timeout or ORPHAN_GRACE_SECONDS)
        loop.run_until_complete(_serve_until_signalled(interface, server, stop, started, grace))
    except StartupFailed as exc:
        logger.error("Application startup failed: %s", exc)
        code = EXIT_STARTUP_FAILED
    finally:
        interface.teardown(loop)
        loop.close()
    sys.exit(code)


def _load_app(spec: WorkerSpec) -> Any:
    if spec.target_loader is not None:
        return spec.target_loader(spec.target)
    from granian_core.loading import load_target

    return load_target(
        spec.target, factory=spec.config.factory, working_dir=spec.config.working_dir
    )


def _reset_inherited_signals() -> None:
    # A forked worker inherits the supervisor's handlers, which would swallow a SIGTERM
    # that arrives while the app is still loading; until the loop's handlers are in
    # place, the default actions apply (the worker is being stopped anyway). The
    # supervisor blocks these signals around the fork; any that came meanwhile are
    # delivered, to the default actions, once unblocked here.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor SIGTERMs us on Ctrl+C
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


def _exit_with_parent() -> None:
    """On Linux, have the kernel SIGTERM this worker if the supervisor dies."""
    if sys.platform != "linux":
        return
    import ctypes

    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() == 1:  # the supervisor died before prctl took effect
        sys.exit(EXIT_OK)


async def _serve_until_signalled(
    interface: Interface,
    server: WorkerServer,
    stop: asyncio.Event,
    started: Callable[[], None],
    orphan_grace: float,
) -> None:
    """``serve_interface`` with SIGTERM/SIGINT setting ``stop``.

    The handlers go in from inside the running loop: uvloop drops a signal that arrives
    after ``add_signal_handler`` but before the loop runs (its wake-up fd is set up when
    the loop starts), and such a worker would never stop. Until then the default action
    applies, as while the app loads.
    """
    _install_signal_handlers(asyncio.get_running_loop(), stop, orphan_grace)
    await serve_interface(interface, server, stop, started)


def _install_signal_handlers(
    loop: asyncio.AbstractEventLoop, stop: asyncio.Event, orphan_grace: float
) -> None:
    parent = os.getppid()
    armed: list[asyncio.TimerHandle] = []

    def on_stop_signal() -> None:
        stop.set()
        # The supervisor died (the kernel's SIGTERM, see _exit_with_parent): nobody will
        # wait for this worker or kill it, so a handler that never ends must not keep it.
        if os.getppid() != parent and not armed:
            logger.warning(
                "The supervisor is gone: exiting in %gs if still shutting down", orphan_grace
            )
            armed.append(loop.call_later(orphan_grace, _exit_orphan))

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_stop_signal)
    # The supervisor reloads on SIGHUP; a worker just ignores it.
    if hasattr(signal, "SIGHUP"):
        loop.add_signal_handler(signal.SIGHUP, _noop)


def _noop() -> None:
    pass


def _exit_orphan() -> None:
    logger.warning("Exiting with handlers still running: the supervisor is gone")
    logging.shutdown()  # flush what was logged: os._exit skips it
    os._exit(EXIT_OK)
