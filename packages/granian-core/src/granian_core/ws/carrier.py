"""The seam between a WebSocket session and the protocol that carries its bytes.

A :class:`~.session.CoreSession` knows frames, not sockets. Whatever carries
it implements :class:`Carrier`: the HTTP/1.1 connection after an upgrade
(:mod:`.h1`) and the RFC 8441 HTTP/2 extended-CONNECT stream
(:mod:`granian_core.http2.websocket`: ``send_accept`` → ``:status 200``,
``write`` → DATA frames, ``close`` → END_STREAM, ``abort`` → RST_STREAM). Both
drive the session through :class:`SessionEvents`; the session code is shared.
"""

from __future__ import annotations

from typing import Protocol

from granian_core.exchange import Headers

__all__ = ["Carrier", "SessionEvents"]


class Carrier(Protocol):
    """What a session needs from its transport. All methods are synchronous but ``drain``."""

    @property
    def write_paused(self) -> bool:
        """True while the peer is behind (the write buffer is over its high-water mark)."""

    def send_accept(self, headers: Headers) -> None:
        """Complete the handshake (101 on HTTP/1.1, 200 on HTTP/2) with these extra headers.

        Raises ``ResponseError`` for invalid headers, before anything is sent.
        """

    def send_reject(self, status: int, headers: Headers, body: bytes) -> None:
        """Answer with a whole HTTP response instead, then end the connection/stream."""

    def write(self, data: bytes) -> None:
        """Queue WebSocket frame bytes (dropped once the transport is gone)."""

    async def drain(self) -> None:
        """Wait until writing may continue; raise ``ClientDisconnected`` if the peer left."""

    def pause_reading(self) -> None:
        """Stop delivering inbound bytes (idempotent)."""

    def resume_reading(self) -> None:
        """Deliver inbound bytes again (idempotent)."""

    def close(self) -> None:
        """End gracefully once queued bytes are out."""

    def abort(self) -> None:
        """Drop the connection/stream now."""


class SessionEvents(Protocol):
    """What a carrier tells its session."""

    def feed(self, data: bytes) -> None:
        """Inbound bytes (frames, or anything the client sent early)."""

    def connection_lost(self) -> None:
        """The connection/stream is gone."""

    def writable(self) -> None:
        """Writes may go on: the peer read what held them back (``write_paused`` is over)."""

    def shutdown(self) -> None:
        """The worker is stopping: close the session with 1001."""
