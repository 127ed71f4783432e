"""Process titles (``--process-name``), set with setproctitle when it is installed.

As in Granian: with setproctitle installed, the main process is titled
``--process-name`` (unless empty) or, by default, ``granian {interface} {bind} {target}``, and
each worker gets the same title followed by `` worker-N``. Without setproctitle
titles are left alone; ``--process-name`` is then refused by the configuration.
"""

from __future__ import annotations

import importlib
import socket
from collections.abc import Sequence
from typing import Any

from granian_core.config import ServerConfig

from .sockets import bind_address

__all__ = ["MISSING_SETPROCTITLE", "main_title", "set_title", "worker_title"]

MISSING_SETPROCTITLE = (
    "--process-name requires the setproctitle package (pip install 'granian[pname]')"
)


def main_title(config: ServerConfig, target: Any, sockets: Sequence[socket.socket]) -> str:
    if config.process_name:  # '' is unset, as in Granian: never an empty title
        return config.process_name
    binds = " ".join(bind_address(sock) for sock in sockets)
    return f"granian {config.interface} {binds} {_target_name(target)}"


def worker_title(
    config: ServerConfig, target: Any, sockets: Sequence[socket.socket], worker_id: int
) -> str:
    return f"{main_title(config, target, sockets)} worker-{worker_id}"


def set_title(title: str) -> None:
    """Set this process's title, if setproctitle is installed."""
    try:
        setproctitle = importlib.import_module("setproctitle")
    except ImportError:
        return
    setproctitle.setproctitle(title)


def _target_name(target: Any) -> str:
    if isinstance(target, str):
        return target
    return str(getattr(target, "__qualname__", type(target).__qualname__))
