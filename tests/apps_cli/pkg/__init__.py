"""A package whose ``app`` lives in its ``__init__``; ``sub`` holds another."""

from tests.apps_cli.hello import app

__all__ = ["app"]
