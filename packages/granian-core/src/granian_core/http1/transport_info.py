"""Per-connection facts read once from an asyncio transport.

The addresses and TLS facts come from :func:`granian_core.tls.connection_info`, the
same function HTTP/2 uses, so both protocols report identical facts.
"""

from __future__ import annotations

import asyncio

from granian_core.tls import connection_info

__all__ = ["connection_info", "native_sendfile"]

_native_sendfile: dict[type, bool] = {}


def native_sendfile(loop: asyncio.AbstractEventLoop, transport: asyncio.BaseTransport) -> bool:
    """Whether ``loop.sendfile`` can serve this transport (decided once per loop type).

    uvloop does not implement ``loop.sendfile``; TLS transports cannot use the
    kernel's sendfile (asyncio would fall back to its own read/write loop, so
    ours, with drain, is used instead).
    """
    loop_type = type(loop)
    supported = _native_sendfile.get(loop_type)
    if supported is None:
        supported = loop_type.sendfile is not asyncio.AbstractEventLoop.sendfile
        _native_sendfile[loop_type] = supported
    return supported and transport.get_extra_info("sslcontext") is None
