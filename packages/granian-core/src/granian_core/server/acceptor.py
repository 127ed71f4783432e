"""The accept loop: our own, so that backpressure can pause it.

``loop.create_server`` cannot stop accepting without closing the listening
socket, so the worker watches the socket itself and hands each accepted socket
to ``loop.connect_accepted_socket``. Pausing removes the reader: pending
connections then wait in the kernel backlog.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import ssl
from collections.abc import Callable

__all__ = ["Acceptor"]

logger = logging.getLogger("_granian")

#: Connections accepted per readiness callback, so one listener cannot starve the loop.
_ACCEPT_BATCH = 64
#: Accept errors that mean "out of resources": back off instead of spinning.
_RESOURCE_ERRORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
_BACKOFF_SECONDS = 0.5


class Acceptor:
    """Accepts connections on one listening socket and starts a protocol for each."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        protocol_factory: Callable[[], asyncio.Protocol],
        ssl_context: ssl.SSLContext | None = None,
        ssl_handshake_timeout: float | None = None,
    ) -> None:
        self._loop = loop
        self._sock = sock
        self._factory = protocol_factory
        #: Connections lost before a protocol got them (failed accepts and set-ups).
        self.failed = 0
        self._ssl = ssl_context
        self._ssl_timeout = ssl_handshake_timeout
        self._tcp = sock.family in (socket.AF_INET, socket.AF_INET6)
        self._reading = False
        self._closed = False
        self._paused = False
        self._setups: set[asyncio.Task[object]] = set()

    def start(self) -> None:
        self._watch()

    def pause(self) -> None:
        self._paused = True
        self._unwatch()

    def resume(self) -> None:
        self._paused = False
        if not self._closed:
            self._watch()

    def close(self) -> None:
        """Stop accepting and close the listening socket (graceful shutdown)."""
        self._closed = True
        self._unwatch()
        self._sock.close()

    def _watch(self) -> None:
        if not self._reading and not self._closed:
            self._loop.add_reader(self._sock.fileno(), self._on_readable)
            self._reading = True

    def _unwatch(self) -> None:
        if self._reading:
            self._loop.remove_reader(self._sock.fileno())
            self._reading = False

    def _on_readable(self) -> None:
        for _ in range(_ACCEPT_BATCH):
            if self._paused or self._closed:
                return
            try:
                conn, _addr = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self._on_accept_error(exc)
                return
            self._start_connection(conn)

    def _on_accept_error(self, exc: OSError) -> None:
        self.failed += 1
        if exc.errno in _RESOURCE_ERRORS:
            logger.error("Cannot accept connections (%s): backing off", exc.strerror)
            self._unwatch()
            self._loop.call_later(_BACKOFF_SECONDS, self.resume if not self._paused else _noop)
        elif exc.errno not in (errno.ECONNABORTED, errno.EPROTO):
            logger.warning("Accept failed: %s", exc)

    def _start_connection(self, conn: socket.socket) -> None:
        conn.setblocking(False)
        if self._tcp:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        setup = self._loop.create_task(
            self._loop.connect_accepted_socket(
                self._factory,
                conn,
                ssl=self._ssl,
                ssl_handshake_timeout=self._ssl_timeout if self._ssl else None,
            )
        )
        self._setups.add(setup)
        setup.add_done_callback(self._on_setup_done)

    def _on_setup_done(self, task: asyncio.Task[object]) -> None:
        self._setups.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self.failed += 1
            # A failed or stalled TLS handshake, or a peer gone before setup: its own loss only.
            logger.debug("Connection setup failed: %r", exc)


def _noop() -> None:
    pass
