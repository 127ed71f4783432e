"""HTTP/1.1: sans-IO state machine (``connection``), pluggable parsers (``parse_h11``,
``parse_httptools``) and the asyncio protocol (``protocol``). See docs/http1.md."""

from .protocol import H1Protocol

__all__ = ["H1Protocol"]
