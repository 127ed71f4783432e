"""The exporter: a small HTTP/1.1 server thread in the main process (``--metrics``).

Every request, whatever its path, gets the current exposition text (Granian serves
its metrics on any path too; Prometheus asks for ``/metrics``). GET and HEAD only:
other methods get a 501, a garbled request a 400, with empty bodies.
Scrapes are rare and tiny, so this is the standard library's threaded server: one
thread per connection, keep-alive, a 5 s read timeout (Granian's), and at most
``MAX_CONNECTIONS`` connections at once (further ones are closed at once).

Forked workers inherit the exporter's sockets: an at-fork hook closes them in the
child, so the port is never held by a worker.
"""

from __future__ import annotations

import contextlib
import http.server
import logging
import os
import select
import socket
import socketserver
import threading
import weakref
from collections.abc import Callable
from typing import Any

from granian_core.errors import ConfigurationError

from .metrics import CONTENT_TYPE
from .sockets import listen_tcp

__all__ = ["MAX_CONNECTIONS", "MetricsExporter"]

logger = logging.getLogger("_granian")

#: Scrapers connected at once; more is a misbehaving client, not monitoring.
MAX_CONNECTIONS = 32
#: Granian's exporter: 5 s to read a request head, no more than 128 pending connections.
READ_TIMEOUT = 5.0
BACKLOG = 128


class MetricsExporter:
    """Serves ``render()`` on ``address:port`` from a daemon thread, until ``stop()``."""

    def __init__(self, address: str, port: int, render: Callable[[], bytes]) -> None:
        self.address = address
        self.requested_port = port
        self.render = render
        self._server: _ExporterServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port (the requested one, or the one chosen for port 0)."""
        assert self._server is not None, "the exporter is not started"
        return int(self._server.server_address[1])

    def start(self) -> None:
        """Bind (``ConfigurationError`` if that fails) and serve in a daemon thread."""
        self._server = _ExporterServer(self.address, self.requested_port, self.render)
        self._thread = threading.Thread(
            target=self._server.serve_until_stopped, name="granian-metrics", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting, close the listening socket; open scrapes end on their own."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None or thread is None:
            return
        server.request_stop()
        thread.join()
        server.server_close()


class _ExporterServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    block_on_close = False
    #: ``handle_request`` gives up after this if the ready connection vanished meanwhile.
    timeout = 0.5

    def __init__(self, address: str, port: int, render: Callable[[], bytes]) -> None:
        self.render = render
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        #: ``request_stop`` writes here to wake the accept loop (no polling).
        self._wake_r, self._wake_w = socket.socketpair()
        super().__init__((address, port), _MetricsHandler, bind_and_activate=False)
        # The listener is bound the way the server's own is (IPv6 only for an IPv6 address).
        self.socket.close()
        try:
            self.socket = listen_tcp(address, port, BACKLOG)
        except OSError as exc:
            self.server_close()
            raise ConfigurationError(
                f"Cannot bind the metrics exporter to {address}:{port}: {exc.strerror}"
            ) from None
        self.server_address = self.socket.getsockname()
        _live_servers.add(self)

    def serve_until_stopped(self) -> None:
        """Accept scrapes until :meth:`request_stop` (the exporter thread's body)."""
        # select() rather than a selector object: no epoll descriptor for workers to inherit.
        watched = [self.socket, self._wake_r]
        while True:
            ready, _, _ = select.select(watched, [], [])
            if self._wake_r in ready:
                return
            self.handle_request()

    def request_stop(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            admitted = len(self._open) < MAX_CONNECTIONS
            if admitted:
                self._open.add(request)
        if not admitted:
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A scraper that went away mid-answer: not worth a traceback on stderr.
        logger.debug("Metrics scrape from %s failed", client_address, exc_info=True)

    def server_close(self) -> None:
        _live_servers.discard(self)
        super().server_close()
        self._wake_r.close()
        self._wake_w.close()

    def release_in_child(self) -> None:
        """After fork, in the child: close our copies of the sockets, touch nothing else.

        No lock: the threads that could hold it do not exist in the child.
        """
        for sock in [self.socket, self._wake_r, self._wake_w, *self._open]:
            with contextlib.suppress(OSError):
                os.close(sock.detach())


class _MetricsHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    #: The version assumed until the request line gives one. The standard library's
    #: HTTP/0.9 answered a garbled request line with a bare HTML page: no status line.
    default_request_version = "HTTP/1.0"
    #: Error answers (400, 501, 505) have an empty body, as Granian's exporter's 400.
    error_message_format = ""
    error_content_type = "text/plain; charset=utf-8"
    timeout = READ_TIMEOUT
    server: _ExporterServer

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # The standard reason phrase: the library's own would quote the client's request.
        super().send_error(code)

    def do_GET(self) -> None:
        self._answer(with_body=True)

    def do_HEAD(self) -> None:
        self._answer(with_body=False)

    def _answer(self, with_body: bool) -> None:
        body = self.server.render()
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def version_string(self) -> str:
        return "granian"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # scrapes are not logged (Granian does not either)


_live_servers: weakref.WeakSet[_ExporterServer] = weakref.WeakSet()


def _release_in_child() -> None:
    for server in list(_live_servers):
        server.release_in_child()
    _live_servers.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_release_in_child)
