"""Pick HTTP/1.1 or HTTP/2 for a TLS connection from the ALPN result.

asyncio creates the protocol before the handshake, so the choice is made in
``connection_made`` (called once the handshake is done): this placeholder
protocol hands the transport to the negotiated one and steps aside.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from .protocol import H2Protocol

if TYPE_CHECKING:
    from granian_core.server.state import WorkerState

__all__ = ["ALPNProtocol"]


class ALPNProtocol(asyncio.Protocol):
    """Becomes ``H2Protocol`` when ALPN chose "h2", else whatever ``http1`` builds."""

    __slots__ = ("_http1", "_state")

    def __init__(self, state: WorkerState, http1: Callable[[], asyncio.Protocol]) -> None:
        self._state = state
        self._http1 = http1

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        ssl_object = transport.get_extra_info("ssl_object")
        alpn = ssl_object.selected_alpn_protocol() if ssl_object is not None else None
        protocol = H2Protocol(self._state) if alpn == "h2" else self._http1()
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
