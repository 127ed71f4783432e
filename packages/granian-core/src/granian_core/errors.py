"""Errors that stop the server with a clear message (exit code 1)."""

from __future__ import annotations

__all__ = ["ConfigurationError", "FatalError", "PidFileError"]


class FatalError(Exception):
    """An error after which the server cannot run."""


class ConfigurationError(FatalError):
    """An invalid combination of options, or an unusable file named by an option."""


class PidFileError(FatalError):
    """The pid file cannot be written, or belongs to another running server."""
