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

    def sendfile_source(self) -> tuple[str, int] | None:
        """``(path, offset)`` when the wrapped object is a regular file reachable by name.

        The name must still lead to the very file that is open (same device and inode),
        so a renamed or replaced file falls back to iteration.
        """
        filelike = self.filelike
        name = getattr(filelike, "name", None)
        fileno = getattr(filelike, "fileno", None)
        if not isinstance(name, str) or fileno is None:
            return None
        try:
            opened = os.fstat(fileno())
            named = os.stat(name)
            offset = int(filelike.tell())
        except (OSError, ValueError, AttributeError):
            return None
        same_file = (opened.st_dev, opened.st_ino) == (named.st_dev, named.st_ino)
        if not same_file or not stat.S_ISREG(opened.st_mode):
            return None
        return name, offset
