"""granian-wsgi: the WSGI (PEP 3333) adapter of granian-py, on a pool of blocking threads."""

from __future__ import annotations

from .file_wrapper import FileWrapper
from .interface import WSGIInterface

__all__ = ["FileWrapper", "WSGIInterface"]
