"""``tests/apps_cli/pkg/sub.py:application``: a file path target inside packages."""

from tests.apps_cli.hello import app as application

__all__ = ["application"]
