"""What every Granian server object shares: options → ``ServerConfig``, logging, hooks."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from enum import Enum
from typing import Any

from granian_core.config import ServerConfig
from granian_core.log import configure_logging
from granian_core.server.supervisor import Hooks

from granian import constants
from granian.http import HTTP1Settings, HTTP2Settings, flatten_http_settings
from granian.log import LogLevels

__all__ = ["AbstractServer", "build_config"]

Hook = Callable[[], Any]

#: Granian's constructor raises these to their floor instead of refusing them.
_CLAMPED_MINIMUMS = {"workers": 1, "backlog": 128}


def build_config(options: dict[str, Any]) -> ServerConfig:
    """A ``ServerConfig`` from ``Granian(...)`` keyword arguments (validated)."""
    fields = dict(options)
    http1: HTTP1Settings | None = fields.pop("http1_settings", None)
    http2: HTTP2Settings | None = fields.pop("http2_settings", None)
    fields.update(flatten_http_settings(http1, http2))
    for name, floor in _CLAMPED_MINIMUMS.items():
        value = fields.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            fields[name] = max(floor, value)
    return ServerConfig(**fields)


class AbstractServer:
    """Holds the target, the validated config and the main-process hooks.

    Option values are readable as attributes (``server.port``), like Granian's.
    """

    def __init__(self, target: Any, options: dict[str, Any]) -> None:
        self.target = target
        self.config = build_config(options)
        self.hooks = Hooks()
        configure_logging(
            self.config.log_level, self.config.log_dictconfig, self.config.log_enabled
        )

    def __getattr__(self, name: str) -> Any:
        # Only called for names not found normally: fall back to the options, as Granian
        # holds them: enum options as enum members, derived defaults resolved.
        config = self.__dict__.get("config")
        if config is not None and name in _OPTION_NAMES:
            resolve = _RESOLVED.get(name)
            if resolve is not None:
                return resolve(config)
            value = getattr(config, name)
            enum = _ENUM_OPTIONS.get(name)
            if enum is not None and isinstance(value, str):
                with contextlib.suppress(ValueError):
                    return enum(value)
            return value
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # Granian's names for the hook lists.
    @property
    def hooks_startup(self) -> list[Hook]:
        return self.hooks.startup

    @property
    def hooks_reload(self) -> list[Hook]:
        return self.hooks.reload

    @property
    def hooks_shutdown(self) -> list[Hook]:
        return self.hooks.shutdown

    def on_startup(self, hook: Hook) -> Hook:
        """Run ``hook`` in the main process before workers start; usable as a decorator."""
        self.hooks.startup.append(hook)
        return hook

    def on_reload(self, hook: Hook) -> Hook:
        """Run ``hook`` in the main process before workers are respawned on reload."""
        self.hooks.reload.append(hook)
        return hook

    def on_shutdown(self, hook: Hook) -> Hook:
        """Run ``hook`` in the main process after workers stopped."""
        self.hooks.shutdown.append(hook)
        return hook


_OPTION_NAMES = frozenset(option.name for option in ServerConfig.options())
_ENUM_OPTIONS: dict[str, type[Enum]] = {
    "interface": constants.Interfaces,
    "http": constants.HTTPModes,
    "loop": constants.Loops,
    "log_level": LogLevels,
    "runtime_mode": constants.RuntimeModes,
    "task_impl": constants.TaskImpl,
    "ssl_protocol_min": constants.SSLProtocols,
    "http1_parser": constants.HTTP1Parsers,
}
#: Options whose default Granian computes in its constructor.
_RESOLVED: dict[str, Callable[[ServerConfig], Any]] = {
    "backpressure": ServerConfig.resolved_backpressure,
    "blocking_threads": ServerConfig.resolved_blocking_threads,
}
