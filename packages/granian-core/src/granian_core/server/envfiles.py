"""``--env-files``: environment variables from dotenv files (python-dotenv).

The real environment wins: the names already set when the supervisor was built
are never overridden. The main process (re)reads the files at startup and on
every reload, so an edited file takes effect at the next reload; a later file
wins over an earlier one. Workers inherit that environment; they load the files
once more without overriding anything, as Granian's workers do.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from granian_core.errors import ConfigurationError

__all__ = ["MISSING_DOTENV", "EnvFiles", "load_env_files_in_worker"]

MISSING_DOTENV = "--env-files requires the python-dotenv package (pip install 'granian[dotenv]')"


class EnvFiles:
    """The main process's loader; snapshots the real environment's names when built."""

    def __init__(self, files: Sequence[Path] | None) -> None:
        self.files = tuple(files or ())
        self._real_names = frozenset(os.environ)

    def load(self) -> None:
        """Set every variable of the files that the real environment does not set."""
        if not self.files:
            return
        dotenv = _dotenv()
        for path in self.files:
            for name, value in dotenv.dotenv_values(dotenv_path=path).items():
                if value is not None and name not in self._real_names:
                    os.environ[name] = value


def load_env_files_in_worker(files: Sequence[Path] | None) -> None:
    """A worker's load: only names not set yet (normally all were inherited)."""
    if not files:
        return
    dotenv = _dotenv()
    for path in files:
        dotenv.load_dotenv(dotenv_path=path, override=False)


def _dotenv() -> ModuleType:
    try:
        import dotenv
    except ImportError:
        raise ConfigurationError(MISSING_DOTENV) from None
    return dotenv
