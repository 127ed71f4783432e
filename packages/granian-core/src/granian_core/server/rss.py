"""A process's resident memory (RSS), read by the supervisor for ``--workers-max-rss``.

Linux: the ``VmRSS`` line of ``/proc/<pid>/status`` (no dependency). Elsewhere:
psutil, when installed. With neither, :func:`rss_readable` is false and the
configuration refuses ``--workers-max-rss`` rather than silently ignoring it.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

__all__ = ["read_rss", "rss_readable"]

_PROC = Path("/proc")
_KIB = 1024


def rss_readable() -> bool:
    """Whether :func:`read_rss` works on this system."""
    if _uses_procfs():
        return True
    return importlib.util.find_spec("psutil") is not None


def read_rss(pid: int) -> int | None:
    """Resident memory of ``pid`` in bytes; ``None`` when the process is gone."""
    if _uses_procfs():
        return _read_procfs(pid)
    return _read_psutil(pid)


def _uses_procfs() -> bool:
    return sys.platform == "linux" and (_PROC / "self" / "status").is_file()


def _read_procfs(pid: int) -> int | None:
    try:
        status = (_PROC / str(pid) / "status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            # "VmRSS:     12345 kB"
            return int(line.split()[1]) * _KIB
    return None  # a zombie has no VmRSS line


def _read_psutil(pid: int) -> int | None:
    psutil = importlib.import_module("psutil")  # optional, untyped
    try:
        return int(psutil.Process(pid).memory_info().rss)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
