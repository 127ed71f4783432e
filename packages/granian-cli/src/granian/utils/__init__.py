"""Helpers for applications served by granian (``granian.utils``)."""
