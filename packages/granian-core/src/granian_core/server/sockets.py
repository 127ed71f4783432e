"""Listening sockets: TCP (IPv4/IPv6) and Unix domain sockets."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from granian_core.errors import ConfigurationError

if TYPE_CHECKING:
    from granian_core.config import ServerConfig

__all__ = [
    "bind_address",
    "bind_listener",
    "bind_tcp",
    "bind_unix",
    "close_listener",
    "describe",
    "unlink_unix",
]


def bind_listener(config: ServerConfig) -> socket.socket:
    """The listening socket ``config`` asks for: ``--uds`` if set, else ``--host``/``--port``."""
    if config.uds is not None:
        return bind_unix(config.uds, config.backlog, config.uds_permissions)
    return bind_tcp(config.address, config.port, config.backlog)


def close_listener(sock: socket.socket) -> None:
    """Close a listening socket; a Unix socket's file is removed too."""
    if sock.family == socket.AF_UNIX:
        unlink_unix(sock)
    sock.close()


def bind_tcp(address: str, port: int, backlog: int) -> socket.socket:
    """A listening, non-blocking TCP socket on ``address:port`` (port 0 = any free port)."""
    try:
        sock = listen_tcp(address, port, backlog)
    except OSError as exc:
        raise ConfigurationError(f"Cannot bind to {address}:{port}: {exc.strerror}") from None
    sock.setblocking(False)
    sock.set_inheritable(True)
    return sock


def listen_tcp(address: str, port: int, backlog: int) -> socket.socket:
    """A listening TCP socket on ``address:port``; raises ``OSError`` (closed on failure).

    An IPv6 address means IPv6 only, as written: dual-stack needs an explicit choice.
    The server's listener and the metrics exporter both bind this way.
    """
    family = socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((address, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock


def bind_unix(path: Path, backlog: int, permissions: int | None = None) -> socket.socket:
    """A listening Unix domain socket at ``path``; a stale socket file is replaced."""
    path = path.resolve()
    _remove_stale_socket(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(path))
        if permissions is not None:
            os.chmod(path, permissions)
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        raise ConfigurationError(f"Cannot bind to unix socket {path}: {exc.strerror}") from None
    sock.setblocking(False)
    sock.set_inheritable(True)
    return sock


def _remove_stale_socket(path: Path) -> None:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise ConfigurationError(f"Cannot bind to unix socket {path}: not a socket file")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError:
        path.unlink()  # nobody listens: a leftover from a crashed server
    else:
        raise ConfigurationError(f"Cannot bind to unix socket {path}: already in use")
    finally:
        probe.close()


def unlink_unix(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        name = sock.getsockname()
        if isinstance(name, str) and name:
            os.unlink(name)


def bind_address(sock: socket.socket) -> str:
    """``host:port`` (``[host]:port`` on IPv6) or ``unix:/path``, as Granian writes them."""
    name = sock.getsockname()
    if sock.family == socket.AF_UNIX:
        return f"unix:{name}"
    host = f"[{name[0]}]" if sock.family == socket.AF_INET6 else name[0]
    return f"{host}:{name[1]}"


def describe(sock: socket.socket, tls: bool = False) -> str:
    """``http(s)://host:port`` or ``unix:/path`` for log lines."""
    address = bind_address(sock)
    if sock.family == socket.AF_UNIX:
        return address
    return f"{'https' if tls else 'http'}://{address}"
