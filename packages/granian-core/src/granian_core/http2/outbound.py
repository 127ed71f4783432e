"""Outbound DATA: per-stream send buffers and a round-robin scheduler (sans-IO).

The scheduler turns buffered response bytes into DATA frames on a
``ServerConnection`` as flow control allows: at most
``min(local_flow_control_window, max_outbound_frame_size)`` per frame, one frame
per stream per turn so streams share the connection fairly. A stream with no
window left is parked until a WINDOW_UPDATE (or a SETTINGS change) unblocks it.
No bytes reach the socket here: the caller drains ``conn.data_to_send()``.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Protocol

from .errors import StreamClosedError

if TYPE_CHECKING:
    from granian_core.exchange import Headers

    from .connection import ServerConnection

__all__ = ["SendBuffer", "SendListener", "SendScheduler", "StreamSender"]


class SendBuffer:
    """Queued body bytes of one stream, taken from the front in frame-sized pieces.

    Written chunks are kept as they are (no copy on write); a frame copies at most
    one frame's worth, and small chunks are joined into one frame.
    """

    __slots__ = ("_chunks", "_offset", "size")

    def __init__(self) -> None:
        self._chunks: deque[bytes] = deque()
        self._offset = 0  # bytes of _chunks[0] already taken
        self.size = 0

    def __bool__(self) -> bool:
        return self.size > 0

    def append(self, data: bytes) -> None:
        self._chunks.append(data)
        self.size += len(data)

    def clear(self) -> None:
        self._chunks.clear()
        self._offset = 0
        self.size = 0

    def take(self, limit: int) -> bytes:
        """Remove and return up to ``limit`` bytes (``limit`` > 0) from the front."""
        chunks = self._chunks
        first = chunks[0]
        offset = self._offset
        available = len(first) - offset
        if available > limit:
            self._offset = offset + limit
            self.size -= limit
            return first[offset : offset + limit]
        chunks.popleft()
        self._offset = 0
        piece = first[offset:] if offset else first
        if available == limit or not chunks:
            self.size -= available
            return piece
        parts = [piece]
        room = limit - available
        while chunks and room > 0:
            nxt = chunks[0]
            if len(nxt) > room:
                parts.append(nxt[:room])
                self._offset = room
                room = 0
                break
            parts.append(chunks.popleft())
            room -= len(nxt)
        taken = limit - room
        self.size -= taken
        return b"".join(parts)


class SendListener(Protocol):
    """What a stream's owner (the exchange) hears from the scheduler."""

    def on_send_space(self) -> None:
        """The send buffer fell below its limit: writers may continue."""

    def on_send_done(self) -> None:
        """The stream's end (END_STREAM, trailers or a reset) was handed to the connection."""


class _NoListener:
    """The listener of a stream whose exchange is finished or lost: nothing to tell."""

    __slots__ = ()

    def on_send_space(self) -> None:
        pass

    def on_send_done(self) -> None:
        pass


_NO_LISTENER = _NoListener()


class StreamSender:
    """Outbound state of one stream: its buffer and how it must end."""

    __slots__ = (
        "buffer",
        "closed",
        "ending",
        "listener",
        "queued",
        "reset_code",
        "stream_id",
        "trailers",
    )

    def __init__(self, stream_id: int, listener: SendListener) -> None:
        self.stream_id = stream_id
        self.listener = listener
        self.buffer = SendBuffer()
        self.ending = False  # the application finished the body
        self.trailers: Headers | None = None  # end with a trailing HEADERS frame
        self.reset_code: int | None = None  # end with RST_STREAM instead of END_STREAM
        self.queued = False  # in the scheduler's ready queue
        self.closed = False  # nothing more will be sent

    def release_listener(self) -> None:
        """Stop telling the listener anything: the exchange and its sender refer to each
        other, so an exchange that is over lets go (reference counting frees both)."""
        self.listener = _NO_LISTENER


class SendScheduler:
    """Round-robin DATA scheduling over the streams of one connection."""

    __slots__ = ("_blocked", "_conn", "_ready", "buffer_limit")

    def __init__(self, conn: ServerConnection, buffer_limit: int) -> None:
        self._conn = conn
        self.buffer_limit = buffer_limit
        self._ready: deque[StreamSender] = deque()
        self._blocked: dict[int, StreamSender] = {}

    @property
    def has_ready(self) -> bool:
        return bool(self._ready)

    def schedule(self, sender: StreamSender) -> None:
        """``sender`` has bytes or its end to send."""
        if sender.queued or sender.closed or sender.stream_id in self._blocked:
            return
        sender.queued = True
        self._ready.append(sender)

    def unblock(self, stream_id: int) -> None:
        """The stream's window grew (WINDOW_UPDATE on that stream)."""
        sender = self._blocked.pop(stream_id, None)
        if sender is not None:
            self.schedule(sender)

    def unblock_all(self) -> None:
        """The connection window or the initial stream window grew."""
        blocked = list(self._blocked.values())
        self._blocked.clear()
        for sender in blocked:
            self.schedule(sender)

    def discard(self, sender: StreamSender) -> None:
        """Forget ``sender`` (its stream was reset or the connection is going away)."""
        sender.closed = True
        sender.buffer.clear()
        self._blocked.pop(sender.stream_id, None)

    def pump(self, budget: int) -> int:
        """Emit frames until ``budget`` bytes were sent or nothing can move; returns bytes."""
        ready = self._ready
        sent = 0
        frame_size = self._conn.max_outbound_frame_size
        while ready and sent < budget:
            sender = ready.popleft()
            sender.queued = False
            if sender.closed:
                continue
            try:
                sent += self._advance(sender, frame_size)
            except StreamClosedError:
                # The stream closed under us (e.g. a reset still in the input batch).
                self.discard(sender)
                sender.listener.on_send_done()
        return sent

    def _advance(self, sender: StreamSender, frame_size: int) -> int:
        """Send one frame of ``sender`` (or its end); requeue it if more remains."""
        buffer = sender.buffer
        if not buffer:
            if sender.ending:
                self._finish(sender)
            return 0
        conn = self._conn
        stream_id = sender.stream_id
        window = conn.local_flow_control_window(stream_id)
        if window <= 0:
            self._blocked[stream_id] = sender
            return 0
        was_full = buffer.size >= self.buffer_limit
        data = buffer.take(min(window, frame_size))
        last = not buffer and sender.ending and sender.trailers is None
        last = last and sender.reset_code is None
        conn.send_data(stream_id, data, end_stream=last)
        if last:
            sender.closed = True
            sender.listener.on_send_done()
            return len(data)
        if was_full and buffer.size < self.buffer_limit:
            sender.listener.on_send_space()
        if buffer or sender.ending:
            sender.queued = True
            self._ready.append(sender)
        return len(data)

    def _finish(self, sender: StreamSender) -> None:
        conn = self._conn
        if sender.reset_code is not None:
            conn.reset_stream(sender.stream_id, sender.reset_code)
        elif sender.trailers is not None:
            conn.send_headers(sender.stream_id, sender.trailers, end_stream=True)
        else:
            conn.end_stream(sender.stream_id)
        sender.closed = True
        sender.listener.on_send_done()

    def send_now(self, sender: StreamSender, data: bytes, end: bool, direct: bool = True) -> None:
        """Queue ``data`` (and the end when ``end``) for ``sender``.

        With ``direct``, a stream with nothing queued sends ``data`` as one frame
        at once when window and frame size allow: a small response skips the queue.
        """
        conn = self._conn
        stream_id = sender.stream_id
        if direct and data and not sender.buffer and sender.reset_code is None:
            size = len(data)
            if (
                (not end or sender.trailers is None)
                and size <= conn.max_outbound_frame_size
                and size <= conn.local_flow_control_window(stream_id)
            ):
                conn.send_data(stream_id, data, end_stream=end)
                if end:
                    sender.ending = True
                    sender.closed = True
                    sender.listener.on_send_done()
                return
        if data:
            sender.buffer.append(data)
        if end:
            sender.ending = True
        self.schedule(sender)
