"""Errors that stop the server (``granian.errors``)."""

from granian_core.errors import ConfigurationError, FatalError, PidFileError

__all__ = ["ConfigurationError", "FatalError", "PidFileError"]
