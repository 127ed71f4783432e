"""Granian's option enums (``granian.constants``)."""

from granian_core.constants import (
    HTTP1Parsers,
    HTTPModes,
    Interfaces,
    Loops,
    RuntimeModes,
    SSLProtocols,
    StrEnum,
    TaskImpl,
)

__all__ = [
    "HTTP1Parsers",
    "HTTPModes",
    "Interfaces",
    "Loops",
    "RuntimeModes",
    "SSLProtocols",
    "StrEnum",
    "TaskImpl",
]
