"""Granian's option enums (``granian.constants``), as ``str`` enums.

A member compares equal to its value (``Loops.auto == "auto"``), so code may pass
either; :class:`~granian_core.config.ServerConfig` stores plain values.
"""

from __future__ import annotations

from enum import Enum

from .log import LogLevels

__all__ = [
    "HTTP1Parsers",
    "HTTPModes",
    "Interfaces",
    "LogLevels",
    "Loops",
    "RuntimeModes",
    "SSLProtocols",
    "StrEnum",
    "TaskImpl",
]


class StrEnum(str, Enum):
    """A ``str`` enum whose ``str()`` is its value (``enum.StrEnum`` is Python >= 3.11)."""

    def __str__(self) -> str:
        return str(self.value)


class Interfaces(StrEnum):
    ASGI = "asgi"
    ASGINL = "asginl"
    RSGI = "rsgi"
    WSGI = "wsgi"


class HTTPModes(StrEnum):
    auto = "auto"
    http1 = "1"
    http2 = "2"


class RuntimeModes(StrEnum):
    auto = "auto"
    mt = "mt"
    st = "st"


class Loops(StrEnum):
    auto = "auto"
    asyncio = "asyncio"
    rloop = "rloop"
    uvloop = "uvloop"


class TaskImpl(StrEnum):
    asyncio = "asyncio"
    rust = "rust"


class SSLProtocols(StrEnum):
    tls12 = "tls1.2"
    tls13 = "tls1.3"


class HTTP1Parsers(StrEnum):
    """granian-py's own option: which HTTP/1 request parser the workers use."""

    auto = "auto"
    h11 = "h11"
    httptools = "httptools"
