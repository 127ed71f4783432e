"""``wsgi.file_wrapper``: file responses that the server may send with sendfile."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from typing import Any

__all__ = ["FileWrapper"]


class FileWrapper:
    """Wraps a file-like object as a response iterable (PEP 3333 "Optional Platform-Specific
    File Handling").

    The adapter recognises it and sends a real file with ``sendfile`` from its current
    position; anything else (or a file that cannot be located) is iterated in ``blksize``
    chunks.
    """

    __slots__ = ("blksize", "filelike")

    def __init__(self, filelike: Any, blksize: int = 8192) -> None:
        self.filelike = filelike
        self.blksize = blksize

    def __iter__(self) -> Iterator[bytes]:
        read = self.filelike.read
        size = self.blksize
        while True:
            chunk = read(size)
            if not chunk:
                return
            yield chunk

    def close(self) -> None:
        close = getattr(self.filelike, "close", None)
        if close is not None:
            close()

    def read_small(self, limit: int, length: int | None = None) -> bytes | None:
        """The rest of a regular file of at most ``limit`` bytes (or its first ``length``
        of them), read at once from the current position; ``None`` for anything else.

        Read with the descriptor, so the file needs no name; the position is left as it was.
        """
        opened = self._opened_regular_file()
        if opened is None:
            return None
        fd, offset, info = opened
        size = max(0, info.st_size - offset)
        if length is not None:
            if not 0 <= length <= size:
                return None  # a file shorter than announced: the sendfile path answers it
            size = length
        if size > limit:
            return None
        data = os.pread(fd, size, offset)
        return data if len(data) == size else None  # it shrank meanwhile

    def sendfile_source(self) -> tuple[str, int] | None:
        """``(path, offset)`` when the wrapped object is a regular file reachable by name.

        The name must still lead to the very file that is open (same device and inode),
        so a renamed or replaced file falls back to iteration.
        """
        name = getattr(self.filelike, "name", None)
        if not isinstance(name, str):
            return None
        opened = self._opened_regular_file()
        if opened is None:
            return None
        _, offset, info = opened
        try:
            named = os.stat(name)
        except (OSError, ValueError):  # ValueError: a NUL in the name
            return None
        if (info.st_dev, info.st_ino) != (named.st_dev, named.st_ino):
            return None
        return name, offset

    def _opened_regular_file(self) -> tuple[int, int, os.stat_result] | None:
        """Descriptor, current position and status of the wrapped object if it is a
        regular file with a descriptor; ``None`` for anything else."""
        filelike = self.filelike
        fileno = getattr(filelike, "fileno", None)
        if fileno is None:
            return None
        try:
            fd = fileno()
            info = os.fstat(fd)
            offset = int(filelike.tell())
        except (OSError, ValueError, AttributeError):
            return None
        if not stat.S_ISREG(info.st_mode):
            return None
        return fd, offset, info
