"""``--reload``: watch the application's files (watchfiles) for the supervisor.

watchfiles blocks while it waits, so it runs in a thread of the main process;
each batch of changes is stored and the supervisor is woken. The supervisor
does the reloading (env files, reload hooks, stop all workers, spawn all) in
its own loop, where every other event is handled too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from granian_core.config import ServerConfig
from granian_core.errors import ConfigurationError

__all__ = ["MISSING_WATCHFILES", "ChangeWatcher", "build_filter", "check_filter_class"]

MISSING_WATCHFILES = "--reload requires the watchfiles package (pip install 'granian[reload]')"

#: How long ``stop()`` waits for the watcher thread (it checks its stop event every tick).
_STOP_TIMEOUT = 5.0


class ChangeWatcher:
    """Watches ``--reload-paths`` in a thread; ``wake`` is called after each batch."""

    def __init__(self, config: ServerConfig, wake: Callable[[], None]) -> None:
        self.paths = [path.resolve() for path in config.reload_paths or [Path.cwd()]]
        self.watch_filter = build_filter(config)
        self.tick = config.reload_tick
        #: Set when watching failed; the supervisor then stops the server.
        self.error: Exception | None = None
        self._wake = wake
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._changes: set[tuple[Any, str]] = set()
        self._thread = threading.Thread(target=self._watch, name="granian-reloader", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(_STOP_TIMEOUT)

    def take_changes(self) -> list[str]:
        """The changes seen since the last call, as log lines (``Modified: /app/main.py``)."""
        with self._lock:
            changes, self._changes = self._changes, set()
        return [f"{change.raw_str().capitalize()}: {path}" for change, path in sorted(changes)]

    def _watch(self) -> None:
        import watchfiles

        try:
            for changes in watchfiles.watch(
                *self.paths,
                watch_filter=self.watch_filter,
                step=self.tick,
                stop_event=self._stop,
                raise_interrupt=False,
            ):
                with self._lock:
                    self._changes.update(changes)
                self._wake()
        except Exception as exc:  # reported by the supervisor, which stops the server
            self.error = exc
            self._wake()


def check_filter_class(filter_class: object) -> None:
    """``reload_filter`` must be a ``watchfiles.BaseFilter`` subclass (the class itself)."""
    import watchfiles

    if not (isinstance(filter_class, type) and issubclass(filter_class, watchfiles.BaseFilter)):
        raise ConfigurationError(
            f"Invalid value for 'reload_filter': expected a watchfiles.BaseFilter subclass, "
            f"got {filter_class!r}"
        )


def build_filter(config: ServerConfig) -> Any:
    """``reload_filter`` (default: watchfiles' ``DefaultFilter``) extended by the ignore options.

    Granian appends the options to the filter class's own lists by mutating the class;
    a subclass carrying the extended lists gives the same filter without that side effect.
    """
    import watchfiles

    base: type[Any] = config.reload_filter or watchfiles.DefaultFilter
    extended = type(
        base.__name__,
        (base,),
        {
            "ignore_dirs": _joined(base.ignore_dirs, config.reload_ignore_dirs),
            "ignore_entity_patterns": _joined(
                base.ignore_entity_patterns, config.reload_ignore_patterns
            ),
            "ignore_paths": _joined(
                base.ignore_paths, [path.resolve() for path in config.reload_ignore_paths or ()]
            ),
        },
    )
    try:
        return extended()
    except TypeError as exc:
        raise ConfigurationError(
            f"Invalid value for 'reload_filter': {base.__name__} cannot be built without "
            f"arguments ({exc})"
        ) from None


def _joined(first: Iterable[Any], extra: Iterable[Any] | None) -> tuple[Any, ...]:
    return (*first, *(extra or ()))
