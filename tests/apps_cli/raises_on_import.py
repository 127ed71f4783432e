"""Fails while being imported with an error that is not an ImportError."""

raise RuntimeError("boom at import time")
