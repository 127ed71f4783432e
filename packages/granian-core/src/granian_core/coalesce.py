"""Write coalescing: small writes of all a worker's connections go out together.

A connection that has a few bytes to send (a response head and a small body) holds them
and registers with the worker's :class:`WriteCoalescer`; one ``call_soon`` per loop pass
then writes every held connection's bytes back to back. Why: each socket write that finds
the peer (the client, or a proxy in front) asleep wakes it, and on loopback or a virtual
machine that wake-up is paid by the writer. Writes issued in one burst after a batch of
reads find the peer still busy with the first ones. Measured with wrk on 64 connections,
the worker's CPU saturated either way and the same syscalls per request: ASGI hello
32.6k → 38.3k req/s, RSGI 36.2k → 42.4k (medians of four alternating runs). Running
handlers eagerly inside ``data_received`` cut the Python work per request by a third yet
lost 25% under the same load, because each response then left between two reads.

The cost is latency: held bytes wait for the next loop pass (the handlers already ready
to run, and one poll of the sockets that does not block), never for a timer. It shows at
low concurrency: 4 connections -3 to -7%, 16 connections +6%, 64 connections +17% (ASGI
hello, alternating runs). WebSocket echo got dearer per message when its frames were held
(18.8 → 22 to 27 µs of server CPU, 16 connections), so only HTTP/1 responses are held.
HTTP/2 connections register too, for the flush they already deferred to the next pass
(their frames wait in the connection, not here): one handle per pass for all of them.
Moving the flush behind the newest handler of the pass (so that it ran before the poll)
measured no better. Holds are bounded per connection (``HOLD_LIMIT``, 16 KiB); anything
larger is written at once, after what is held. Holding up to 64 KiB made the 50 KiB file
workload 20% slower (suite runs, three rounds each): a burst of 64 such responses is
megabytes at once, more than the peers' socket buffers take, so writes split and wait.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from asyncio import Transport

__all__ = ["HOLD_LIMIT", "JOIN_LIMIT", "HeldWrites", "Holder", "WriteCoalescer"]

logger = logging.getLogger("_granian")

#: Bytes a connection may hold for the next flush; a write past this goes out at once.
HOLD_LIMIT = 16 * 1024
#: Pieces of one write up to this total are joined (cheaper than a writev of small
#: buffers); larger ones go out with ``writelines``, not copied into a joined buffer.
JOIN_LIMIT = 16 * 1024


class Holder(Protocol):
    """A connection that holds bytes until :meth:`release_held` is called."""

    def release_held(self) -> None: ...


class WriteCoalescer:
    """The worker's list of connections holding bytes, flushed once per loop pass."""

    __slots__ = ("_holders", "_loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._holders: list[Holder] = []

    def hold(self, holder: Holder) -> None:
        """Call ``holder.release_held()`` on the next flush (register once per hold)."""
        holders = self._holders
        if not holders:
            self._loop.call_soon(self._flush)
        holders.append(holder)

    def _flush(self) -> None:
        holders = self._holders
        self._holders = []
        for holder in holders:
            try:
                holder.release_held()
            except Exception:  # one broken connection must not keep the others' bytes
                logger.exception("writing held bytes failed")


class HeldWrites:
    """Mixin for a connection protocol: small writes wait for the worker's next flush.

    The protocol calls :meth:`_start_holding` once, writes through :meth:`_send`, calls
    :meth:`release_held` before anything that bypasses it (a direct large write,
    ``sendfile``, ``close``, ``abort``, handing the transport over) and drops
    ``_held`` when the connection is lost.
    """

    __slots__ = ("_coalescer", "_held", "_held_size")

    _transport: Transport | None

    def _start_holding(self, coalescer: WriteCoalescer) -> None:
        self._coalescer = coalescer
        #: Bytes waiting for the next flush (``None``: nothing held).
        self._held: list[bytes] | None = None
        self._held_size = 0

    def _send(self, data: bytes) -> None:
        """Give ``data`` to the transport: held for the worker's next flush when small."""
        self._send_parts([data], len(data))

    def _send_parts(self, parts: list[bytes], size: int) -> None:
        """:meth:`_send` for pieces of ``size`` bytes in all (the list becomes ours)."""
        held = self._held
        if held is None:
            if size > HOLD_LIMIT:
                self._transport.writelines(parts)  # type: ignore[union-attr]
                return
            self._held = parts
            self._held_size = size
            self._coalescer.hold(self)
            return
        held += parts
        self._held_size += size
        if self._held_size > HOLD_LIMIT:
            self.release_held()

    def release_held(self) -> None:
        """Write the held bytes now (the coalescer's flush, or before a direct write)."""
        held = self._held
        if held is None:
            return
        self._held = None
        transport = self._transport
        assert transport is not None
        if len(held) == 1:
            transport.write(held[0])
        elif self._held_size <= JOIN_LIMIT:
            transport.write(b"".join(held))
        else:
            # One writev on uvloop; a large piece is not copied into a joined buffer.
            transport.writelines(held)
