"""``wsgi.input``: the request body, streamed from the event loop to the app's thread.

Chunks come through a :class:`~.body_feed.BodyFeed`, which reads a few chunks
ahead on the loop: an upload of any size goes through in bounded memory, and the
protocol's read flow control applies while the app is slow to read.

A small body read on the loop before the app runs (see ``interface.py``) is
given whole instead: reads then never leave the app's thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .body_feed import BodyFeed

__all__ = ["WSGIInput"]


class WSGIInput:
    """A read-only binary stream over the request body (PEP 3333 input stream)."""

    __slots__ = ("_buffer", "_eof", "_feed", "_pos")

    def __init__(self, body: bytes | None, feed: BodyFeed | None) -> None:
        """``body``: the whole request body, already read on the loop; else ``feed``
        streams it (neither: the body is empty)."""
        self._buffer = body or b""
        self._pos = 0  # bytes of _buffer already consumed
        self._feed = feed
        self._eof = feed is None

    def _refill(self) -> bool:
        """Replace the (consumed) buffer with the next body chunk; False at the end."""
        feed = self._feed
        while not self._eof and feed is not None:
            chunk = feed.take()
            if chunk:
                self._buffer = chunk
                self._pos = 0
                return True
            self._eof = True
        self._buffer = b""
        self._pos = 0
        return False

    def _take_buffered(self) -> bytes:
        data = self._buffer[self._pos :] if self._pos else self._buffer
        self._buffer = b""
        self._pos = 0
        return data

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes (fewer only at the end of the body); all of it if negative."""
        if size is None or size < 0:
            return self._read_all()
        start = self._pos
        end = start + size
        if end <= len(self._buffer):
            self._pos = end
            return self._buffer[start:end]
        rest = self._take_buffered()
        parts = self._parts_from(rest)
        missing = size - len(rest)
        while missing > 0 and self._refill():
            chunk = self._buffer
            if len(chunk) <= missing:
                parts.append(chunk)
                missing -= len(chunk)
                self._buffer = b""
            else:
                parts.append(chunk[:missing])
                self._pos = missing
                missing = 0
        return b"".join(parts)

    def _read_all(self) -> bytes:
        parts = self._parts_from(self._take_buffered())
        while self._refill():
            parts.append(self._take_buffered())
        return b"".join(parts)

    @staticmethod
    def _parts_from(rest: bytes) -> list[bytes]:
        # Without an empty leading part, a read that one chunk serves joins a one-item
        # list, which returns the chunk itself; joined with b"" it was copied again.
        return [rest] if rest else []

    def readline(self, size: int | None = -1) -> bytes:
        """One line, newline included; at most ``size`` bytes when ``size`` >= 0."""
        limit = -1 if size is None else size
        parts: list[bytes] = []
        length = 0
        while limit < 0 or length < limit:
            if self._pos >= len(self._buffer) and not self._refill():
                break
            buffer, start = self._buffer, self._pos
            stop = len(buffer) if limit < 0 else min(len(buffer), start + limit - length)
            newline = buffer.find(b"\n", start, stop)
            end = stop if newline < 0 else newline + 1
            parts.append(buffer[start:end])
            length += end - start
            self._pos = end
            if newline >= 0:
                break
        if len(parts) == 1:
            return parts[0]
        return b"".join(parts)

    def readlines(self, hint: int | None = -1) -> list[bytes]:
        """Lines until the end, or until their total size reaches ``hint`` (when > 0)."""
        lines: list[bytes] = []
        total = 0
        while True:
            line = self.readline()
            if not line:
                return lines
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint <= total:
                return lines

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def close(self) -> None:
        """Nothing to release: unread body data is discarded by the server."""
