"""The ``--pid-file``: written at start, refused if another live server owns it."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from granian_core.errors import PidFileError

__all__ = ["PidFile"]


class PidFile:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def write(self) -> None:
        other = self._read_existing()
        if other is not None and other != os.getpid() and _alive(other):
            raise PidFileError(
                f"The pid file {self.path} belongs to a running process (PID {other})"
            )
        try:
            self.path.write_text(f"{os.getpid()}\n")
        except OSError as exc:
            raise PidFileError(f"Cannot write the pid file {self.path}: {exc.strerror}") from None

    def remove(self) -> None:
        """Remove the file, but only while it still holds our PID."""
        with contextlib.suppress(PidFileError):
            if self._read_existing() != os.getpid():
                return
        with contextlib.suppress(OSError):
            self.path.unlink()

    def _read_existing(self) -> int | None:
        try:
            text = self.path.read_text().strip()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise PidFileError(f"Cannot read the pid file {self.path}: {exc.strerror}") from None
        try:
            return int(text)
        except ValueError:
            raise PidFileError(f"The pid file {self.path} does not hold a PID") from None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
