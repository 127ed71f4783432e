"""Per-connection facts read once from an asyncio transport."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from granian_core.exchange import ConnectionInfo, TLSInfo

__all__ = ["connection_info", "native_sendfile"]

_native_sendfile: dict[type, bool] = {}


def connection_info(transport: asyncio.BaseTransport) -> ConnectionInfo:
    """Client/server addresses, scheme and TLS facts of a freshly made connection."""
    sockname = transport.get_extra_info("sockname")
    ssl_object = transport.get_extra_info("ssl_object")
    scheme = "https" if ssl_object is not None else "http"
    tls = _tls_info(ssl_object) if ssl_object is not None else None
    if isinstance(sockname, (str, bytes)):  # AF_UNIX: the socket path
        path = sockname if isinstance(sockname, str) else sockname.decode(errors="replace")
        return ConnectionInfo(client=None, server=(path, 0), scheme=scheme, unix_path=path, tls=tls)
    peername = transport.get_extra_info("peername")
    return ConnectionInfo(
        client=_host_port(peername),
        server=_host_port(sockname),
        scheme=scheme,
        tls=tls,
    )


def _host_port(address: Any) -> tuple[str, int] | None:
    if isinstance(address, tuple) and len(address) >= 2:
        return str(address[0]), int(address[1])
    return None


def _tls_info(ssl_object: ssl.SSLObject | ssl.SSLSocket) -> TLSInfo:
    cipher = ssl_object.cipher()
    peer_cert = ssl_object.getpeercert(binary_form=True)
    return TLSInfo(
        version=ssl_object.version(),
        cipher=cipher[0] if cipher else None,
        alpn_protocol=ssl_object.selected_alpn_protocol(),
        server_cert=None,
        client_cert_chain=(peer_cert,) if peer_cert else (),
    )


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
