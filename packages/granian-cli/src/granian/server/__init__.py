"""Granian's server classes (``granian.server``)."""

from .mp import MPServer

#: granian-py runs workers as processes on every build (there is no threaded ``MTServer``).
Server = MPServer

__all__ = ["MPServer", "Server"]
