"""``ServerConfig``: the option table.

Each field of :class:`ServerConfig` is one server option, declared with
:func:`opt`, which records its CLI flag, help text, range and choices in the
field's metadata. The ``granian`` CLI, the ``GRANIAN_*`` environment variables,
the ``Granian(...)`` keyword arguments and the README option table are all
generated from this table, so an option is added (or changed) here only.

Field names are Granian's constructor keyword names, with ``HTTP1Settings`` and
``HTTP2Settings`` flattened into ``http1_*`` / ``http2_*`` fields.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import ipaddress
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Literal, TypeVar

from .constants import (
    HTTP1Parsers,
    HTTPModes,
    LogLevels,
    Loops,
    RuntimeModes,
    SSLProtocols,
    TaskImpl,
)
from .errors import ConfigurationError
from .interface import available_interfaces

__all__ = ["ConfigOption", "OptionKind", "OptionSpec", "ServerConfig", "describe_range", "opt"]

T = TypeVar("T")

#: How an option's value is typed, parsed on the command line and checked here.
#: ``file``/``dir``/``path`` are paths (the CLI checks the kind of file system entry);
#: ``json`` is a dict read from a JSON file by the CLI; ``object`` has no CLI flag.
OptionKind = Literal[
    "str", "int", "float", "bool", "choice", "duration", "octal",
    "path", "file", "dir", "json", "object",
]  # fmt: skip

ENV_PREFIX = "GRANIAN_"

#: An option not implemented yet says so in its own field (``implemented=False``).
_PATH_KINDS = frozenset({"path", "file", "dir", "json"})
_MAX_PORT = 65_535


@dataclass(frozen=True, slots=True)
class OptionSpec:
    """Everything the CLI, the env vars and the docs need to know about one option."""

    kind: OptionKind
    flag: str | None
    help: str
    #: The CLI parameter name (hence ``GRANIAN_<PARAM>``) when it is not the flag's name.
    param: str | None = None
    min: float | None = None
    max: float | None = None
    enum: type[Enum] | None = None
    #: Choices computed when asked (installed interfaces), instead of an enum.
    choices: Callable[[], Sequence[str]] | None = None
    multiple: bool = False
    #: The CLI requires the path to exist.
    exists: bool = False
    metavar: str | None = None
    #: What ``--help`` shows as the default when the field default is ``None``.
    default_help: str | None = None
    #: ``False``: any non-default value is refused as not implemented yet; a tuple
    #: lists the values (besides the default) that are implemented.
    implemented: bool | tuple[object, ...] = True

    def choice_values(self) -> list[str]:
        if self.enum is not None:
            return [str(member.value) for member in self.enum]
        if self.choices is not None:
            return list(self.choices())
        return []


@dataclass(frozen=True, slots=True)
class ConfigOption:
    """One row of the table: the field name, its default and its :class:`OptionSpec`."""

    name: str
    default: Any
    spec: OptionSpec

    @property
    def flag(self) -> str | None:
        return self.spec.flag

    @property
    def secondary_flag(self) -> str | None:
        """``--no-x`` for a boolean ``--x``."""
        if self.spec.kind != "bool" or self.spec.flag is None:
            return None
        return "--no-" + self.spec.flag[2:]

    @property
    def param_name(self) -> str | None:
        """The CLI's Python parameter name: Granian's, which names the env var."""
        if self.spec.param is not None:
            return self.spec.param
        if self.spec.flag is None:
            return None
        return self.spec.flag[2:].replace("-", "_")

    @property
    def envvar(self) -> str | None:
        param = self.param_name
        return None if param is None else ENV_PREFIX + param.upper()

    @property
    def label(self) -> str:
        """How messages name the option: ``'workers' (--workers)``."""
        return f"{self.name!r} ({self.flag})" if self.flag else repr(self.name)


def opt(
    default: T,
    *,
    kind: OptionKind,
    flag: str | None,
    help: str,
    param: str | None = None,
    min: float | None = None,
    max: float | None = None,
    enum: type[Enum] | None = None,
    choices: Callable[[], Sequence[str]] | None = None,
    multiple: bool = False,
    exists: bool = False,
    metavar: str | None = None,
    default_help: str | None = None,
    implemented: bool | tuple[object, ...] = True,
) -> T:
    """A dataclass field with its option metadata (typed as its default for checkers)."""
    spec = OptionSpec(
        kind=kind,
        flag=flag,
        help=help,
        param=param,
        min=min,
        max=max,
        enum=enum,
        choices=choices,
        multiple=multiple,
        exists=exists,
        metavar=metavar,
        default_help=default_help,
        implemented=implemented,
    )
    return field(default=default, metadata={"option": spec})


@dataclass(frozen=True, kw_only=True, slots=True)
class ServerConfig:
    """The server's options, validated on construction (``ConfigurationError``).

    The field order is the order of ``granian --help``.
    """

    address: str = opt(
        "127.0.0.1", kind="str", flag="--host", param="host", help="Host address to bind to"
    )
    port: int = opt(8000, kind="int", flag="--port", min=0, max=_MAX_PORT, help="Port to bind to.")
    uds: Path | None = opt(None, kind="path", flag="--uds", help="Unix Domain Socket to bind to.")
    uds_permissions: int | None = opt(
        None,
        kind="octal",
        flag="--uds-permissions",
        min=0,
        max=0o7777,
        help="Unix Domain Socket file permissions (octal when written with a leading 0)",
    )
    interface: str = opt(
        "rsgi",
        kind="choice",
        flag="--interface",
        choices=available_interfaces,
        help="Application interface type",
    )
    http: str = opt(
        "auto",
        kind="choice",
        flag="--http",
        enum=HTTPModes,
        help="HTTP version",
    )
    websockets: bool = opt(
        True, kind="bool", flag="--ws", param="websockets", help="Enable websockets handling"
    )
    workers: int = opt(1, kind="int", flag="--workers", min=1, help="Number of worker processes")
    blocking_threads: int | None = opt(
        None,
        kind="int",
        flag="--blocking-threads",
        min=1,
        help="Number of blocking threads (per worker)",
    )
    blocking_threads_idle_timeout: int = opt(
        30,
        kind="duration",
        flag="--blocking-threads-idle-timeout",
        min=5,
        max=600,
        help=(
            "The maximum amount of time in seconds (or a human-readable duration) "
            "an idle blocking thread will be kept alive"
        ),
    )
    runtime_threads: int = opt(
        1,
        kind="int",
        flag="--runtime-threads",
        min=1,
        help="Number of runtime threads (per worker)",
        implemented=False,
    )
    runtime_blocking_threads: int | None = opt(
        None,
        kind="int",
        flag="--runtime-blocking-threads",
        min=1,
        help="Number of runtime I/O blocking threads (per worker)",
    )
    runtime_mode: str = opt(
        "auto",
        kind="choice",
        flag="--runtime-mode",
        enum=RuntimeModes,
        help="Runtime mode to use (single/multi threaded)",
        implemented=("auto", "st"),
    )
    loop: str = opt(
        "auto", kind="choice", flag="--loop", enum=Loops, help="Event loop implementation"
    )
    task_impl: str = opt(
        "asyncio",
        kind="choice",
        flag="--task-impl",
        enum=TaskImpl,
        help="Async task implementation to use",
        implemented=False,
    )
    backlog: int = opt(
        1024,
        kind="int",
        flag="--backlog",
        min=128,
        help="Maximum number of connections to hold in backlog (globally)",
    )
    backpressure: int | None = opt(
        None,
        kind="int",
        flag="--backpressure",
        min=1,
        default_help="backlog/workers",
        help="Maximum number of requests to process concurrently (per worker)",
    )
    http1_buffer_size: int = opt(
        417_792,
        kind="int",
        flag="--http1-buffer-size",
        min=8192,
        help="Sets the maximum buffer size for HTTP/1 connections",
    )
    http1_header_read_timeout: int = opt(
        30_000,
        kind="int",
        flag="--http1-header-read-timeout",
        min=1,
        max=60_000,
        help="Sets a timeout (in milliseconds) to read headers",
    )
    http1_keep_alive: bool = opt(
        True,
        kind="bool",
        flag="--http1-keep-alive",
        help="Enables or disables HTTP/1 keep-alive",
    )
    http1_pipeline_flush: bool = opt(
        False,
        kind="bool",
        flag="--http1-pipeline-flush",
        help="Aggregates HTTP/1 flushes to better support pipelined responses (experimental)",
    )
    http1_parser: str = opt(
        "auto",
        kind="choice",
        flag="--http1-parser",
        enum=HTTP1Parsers,
        help="HTTP/1 request parser (auto: httptools when installed, else h11)",
    )
    http2_adaptive_window: bool = opt(
        False,
        kind="bool",
        flag="--http2-adaptive-window",
        help="Sets whether to use an adaptive flow control for HTTP2",
    )
    http2_initial_connection_window_size: int = opt(
        1_048_576,
        kind="int",
        flag="--http2-initial-connection-window-size",
        min=1024,
        help="Sets the max connection-level flow control for HTTP2",
    )
    http2_initial_stream_window_size: int = opt(
        1_048_576,
        kind="int",
        flag="--http2-initial-stream-window-size",
        min=1024,
        help=("Sets the `SETTINGS_INITIAL_WINDOW_SIZE` option for HTTP2 stream-level flow control"),
    )
    http2_keep_alive_interval: int | None = opt(
        None,
        kind="int",
        flag="--http2-keep-alive-interval",
        min=1,
        max=60_000,
        help=(
            "Sets an interval (in milliseconds) for HTTP2 Ping frames should be sent "
            "to keep a connection alive"
        ),
    )
    http2_keep_alive_timeout: int = opt(
        20,
        kind="duration",
        flag="--http2-keep-alive-timeout",
        min=1,
        help=(
            "Sets a timeout (in seconds or a human-readable duration) for receiving "
            "an acknowledgement of the HTTP2 keep-alive ping"
        ),
    )
    http2_max_concurrent_streams: int = opt(
        200,
        kind="int",
        flag="--http2-max-concurrent-streams",
        min=10,
        help="Sets the SETTINGS_MAX_CONCURRENT_STREAMS option for HTTP2 connections",
    )
    http2_max_frame_size: int = opt(
        16_384,
        kind="int",
        flag="--http2-max-frame-size",
        min=1024,
        help="Sets the maximum frame size to use for HTTP2",
    )
    http2_max_headers_size: int = opt(
        16_777_216,
        kind="int",
        flag="--http2-max-headers-size",
        min=1,
        help="Sets the max size of received header frames",
    )
    http2_max_send_buffer_size: int = opt(
        409_600,
        kind="int",
        flag="--http2-max-send-buffer-size",
        min=1024,
        help="Set the maximum write buffer size for each HTTP/2 stream",
    )
    log_enabled: bool = opt(
        True, kind="bool", flag="--log", param="log_enabled", help="Enable logging"
    )
    log_level: str = opt(
        "info", kind="choice", flag="--log-level", enum=LogLevels, help="Log level"
    )
    log_dictconfig: dict[str, Any] | None = opt(
        None,
        kind="json",
        flag="--log-config",
        exists=True,
        help="Logging configuration file (json)",
    )
    log_access: bool = opt(
        False,
        kind="bool",
        flag="--access-log",
        param="log_access_enabled",
        help="Enable access log",
    )
    log_access_format: str | None = opt(
        None, kind="str", flag="--access-log-fmt", param="log_access_fmt", help="Access log format"
    )
    ssl_cert: Path | None = opt(
        None,
        kind="file",
        flag="--ssl-certificate",
        exists=True,
        help="SSL certificate file",
    )
    ssl_key: Path | None = opt(
        None,
        kind="file",
        flag="--ssl-keyfile",
        exists=True,
        help="SSL key file",
    )
    ssl_key_password: str | None = opt(
        None,
        kind="str",
        flag="--ssl-keyfile-password",
        help="SSL key password",
    )
    ssl_protocol_min: str = opt(
        "tls1.3",
        kind="choice",
        flag="--ssl-protocol-min",
        enum=SSLProtocols,
        help="Set the minimum supported protocol for SSL connections",
    )
    ssl_ca: Path | None = opt(
        None,
        kind="file",
        flag="--ssl-ca",
        exists=True,
        help="Root SSL certificate file for client verification",
    )
    ssl_crl: list[Path] | None = opt(
        None,
        kind="file",
        flag="--ssl-crl",
        exists=True,
        multiple=True,
        help="SSL CRL file(s)",
    )
    ssl_client_verify: bool = opt(
        False,
        kind="bool",
        flag="--ssl-client-verify",
        help="Verify clients SSL certificates",
    )
    url_path_prefix: str | None = opt(
        None, kind="str", flag="--url-path-prefix", help="URL path prefix the app is mounted on"
    )
    respawn_failed_workers: bool = opt(
        False,
        kind="bool",
        flag="--respawn-failed-workers",
        help="Enable workers respawn on unexpected exit",
    )
    respawn_interval: float = opt(
        3.5,
        kind="float",
        flag="--respawn-interval",
        min=0,
        help="The number of seconds to sleep between workers respawn",
    )
    rss_sample_interval: int = opt(
        30,
        kind="duration",
        flag="--rss-sample-interval",
        min=1,
        max=300,
        help=("The sample rate in seconds (or a human-readable duration) for the resource monitor"),
    )
    rss_samples: int = opt(
        1,
        kind="int",
        flag="--rss-samples",
        min=1,
        help=(
            "The number of consecutive samples over the memory limit before a worker is respawned"
        ),
    )
    workers_lifetime: int | None = opt(
        None,
        kind="duration",
        flag="--workers-lifetime",
        min=60,
        help=(
            "The maximum amount of time in seconds (or a human-readable duration) "
            "a worker will be kept alive before respawn"
        ),
    )
    workers_max_rss: int | None = opt(
        None,
        kind="int",
        flag="--workers-max-rss",
        min=1,
        help="The maximum amount of memory (in MiB) a worker can consume before respawn",
    )
    workers_kill_timeout: int | None = opt(
        None,
        kind="duration",
        flag="--workers-kill-timeout",
        min=1,
        max=1800,
        default_help="disabled",
        help=(
            "The amount of time in seconds (or a human-readable duration) to wait for "
            "killing workers that refused to gracefully stop"
        ),
    )
    factory: bool = opt(
        False,
        kind="bool",
        flag="--factory",
        help=(
            "Treat target as a factory function, that should be invoked to build the actual target"
        ),
    )
    working_dir: Path | None = opt(
        None, kind="dir", flag="--working-dir", exists=True, help="Set the working directory"
    )
    env_files: list[Path] | None = opt(
        None,
        kind="file",
        flag="--env-files",
        exists=True,
        multiple=True,
        help="Environment file(s) to load (requires granian[dotenv] extra)",
    )
    static_path_route: list[str] | None = opt(
        None,
        kind="str",
        flag="--static-path-route",
        multiple=True,
        default_help="/static",
        help="Route for static file serving",
    )
    static_path_mount: list[Path] | None = opt(
        None,
        kind="dir",
        flag="--static-path-mount",
        exists=True,
        multiple=True,
        help="Path to mount for static file serving",
    )
    static_path_dir_to_file: str | None = opt(
        None,
        kind="str",
        flag="--static-path-dir-to-file",
        help="File name to serve when a directory is requested (e.g. index.html)",
    )
    static_path_expires: int = opt(
        86_400,
        kind="duration",
        flag="--static-path-expires",
        min=0,
        help=(
            "Cache headers expiration (in seconds or a human-readable duration) "
            "for static file serving. 0 to disable."
        ),
    )
    metrics_enabled: bool = opt(
        False,
        kind="bool",
        flag="--metrics",
        param="metrics_enabled",
        help="Enable the Prometheus metrics exporter",
    )
    metrics_scrape_interval: int = opt(
        15,
        kind="duration",
        flag="--metrics-scrape-interval",
        min=1,
        max=60,
        help="The interval in seconds (or a human-readable duration) between metrics collections",
    )
    metrics_address: str = opt(
        "127.0.0.1",
        kind="str",
        flag="--metrics-address",
        help="Host address to bind the metrics exporter to",
    )
    metrics_port: int = opt(
        9090,
        kind="int",
        flag="--metrics-port",
        min=0,
        max=_MAX_PORT,
        help="Port to bind the metrics exporter to",
    )
    reload: bool = opt(
        False,
        kind="bool",
        flag="--reload",
        help=("Enable auto reload on application's files changes (requires granian[reload] extra)"),
    )
    reload_paths: list[Path] | None = opt(
        None,
        kind="path",
        flag="--reload-paths",
        exists=True,
        multiple=True,
        default_help="Working directory",
        help="Paths to watch for changes",
    )
    reload_ignore_dirs: list[str] | None = opt(
        None,
        kind="str",
        flag="--reload-ignore-dirs",
        multiple=True,
        help=(
            "Names of directories to ignore changes for. Extends the default list of "
            "directories to ignore in watchfiles' default filter"
        ),
    )
    reload_ignore_patterns: list[str] | None = opt(
        None,
        kind="str",
        flag="--reload-ignore-patterns",
        multiple=True,
        help=(
            "File/directory name patterns (regex) to ignore changes for. Extends the "
            "default list of patterns to ignore in watchfiles' default filter"
        ),
    )
    reload_ignore_paths: list[Path] | None = opt(
        None,
        kind="path",
        flag="--reload-ignore-paths",
        multiple=True,
        help="Absolute paths to ignore changes for",
    )
    reload_filter: type | None = opt(
        None,
        kind="object",
        flag=None,
        help="A watchfiles filter class for the reloader (Python API only)",
    )
    reload_tick: int = opt(
        50,
        kind="int",
        flag="--reload-tick",
        min=50,
        max=5000,
        help="The tick frequency (in milliseconds) the reloader watch for changes",
    )
    reload_ignore_worker_failure: bool = opt(
        False,
        kind="bool",
        flag="--reload-ignore-worker-failure",
        help="Ignore worker failures when auto reload is enabled",
    )
    process_name: str | None = opt(
        None,
        kind="str",
        flag="--process-name",
        help="Set a custom name for processes (requires granian[pname] extra)",
    )
    pid_file: Path | None = opt(
        None, kind="file", flag="--pid-file", help="A path to write the PID file to"
    )

    # -- validation ---------------------------------------------------------------------
    def __post_init__(self) -> None:
        for option in _options():
            value = getattr(self, option.name)
            normalized = _normalize(option, value)
            if normalized is not value:
                object.__setattr__(self, option.name, normalized)
        for option in _options():
            _check_implemented(option, getattr(self, option.name))
        self._check_combinations()

    def _check_combinations(self) -> None:
        for name in ("address", "metrics_address"):
            _check_ip_literal(_option(name), getattr(self, name))
        if self.blocking_threads is not None and self.blocking_threads > 1:
            self._check_blocking_interface()
        if (self.ssl_cert is None) != (self.ssl_key is None):
            raise ConfigurationError("--ssl-certificate and --ssl-keyfile must be given together")
        if self.ssl_client_verify and self.ssl_ca is None:
            raise ConfigurationError("--ssl-client-verify requires --ssl-ca")
        if self.http1_parser == "httptools" and not _importable("httptools"):
            raise ConfigurationError(
                "--http1-parser httptools requires the httptools package (pip install httptools)"
            )
        if self.log_access_format is not None:
            from .log import validate_access_log_format

            validate_access_log_format(self.log_access_format)
        self._normalize_static_paths()
        self._check_process_options()

    def _check_process_options(self) -> None:
        """The supervisor's optional features need their extra (or a way to read RSS)."""
        if self.process_name is not None and not _importable("setproctitle"):
            from .server.proctitle import MISSING_SETPROCTITLE

            raise ConfigurationError(MISSING_SETPROCTITLE)
        if self.env_files and not _importable("dotenv"):
            from .server.envfiles import MISSING_DOTENV

            raise ConfigurationError(MISSING_DOTENV)
        if self.reload:
            if not _importable("watchfiles"):
                from .server.reload import MISSING_WATCHFILES

                raise ConfigurationError(MISSING_WATCHFILES)
            if self.reload_filter is not None:
                from .server.reload import check_filter_class

                check_filter_class(self.reload_filter)
        elif self.workers_max_rss is not None:  # --reload disables the memory monitor
            from .server.rss import rss_readable

            if not rss_readable():
                raise ConfigurationError(
                    "--workers-max-rss needs /proc (Linux) or the psutil package "
                    "(pip install 'granian[rss]') to read the workers' memory"
                )

    def _check_blocking_interface(self) -> None:
        from .interface import load_interface

        if not load_interface(self.interface).blocking:
            raise ConfigurationError(
                f"--blocking-threads {self.blocking_threads} is not supported by the "
                f"{self.interface!r} interface: only blocking interfaces (wsgi) use more than 1"
            )

    # -- derived values -----------------------------------------------------------------
    def resolved_backpressure(self) -> int:
        """Concurrent connections per worker: ``--backpressure``, else backlog / workers."""
        if self.backpressure is not None:
            return self.backpressure
        return max(1, self.backlog // self.workers)

    def resolved_blocking_threads(self) -> int:
        """Blocking threads per worker; Granian's default for blocking interfaces (WSGI)."""
        if self.blocking_threads is not None:
            return self.blocking_threads
        from .interface import load_interface

        if load_interface(self.interface).blocking:
            return max(1, self.resolved_backpressure() // 2)
        return 1

    def resolved_http1_parser(self) -> str:
        """``h11`` or ``httptools``: ``auto`` picks httptools when it is installed."""
        if self.http1_parser != "auto":
            return self.http1_parser
        return "httptools" if _importable("httptools") else "h11"

    def resolved_static_paths(self) -> list[tuple[str, Path]]:
        """``(route, mount)`` pairs; one mount without a route is served at ``/static``."""
        mounts = self.static_path_mount or []
        routes = self.static_path_route or []
        if len(mounts) == 1 and not routes:
            routes = ["/static"]
        if len(routes) != len(mounts):
            raise ConfigurationError(
                f"--static-path-route is given {len(routes)} time(s) but "
                f"--static-path-mount {len(mounts)} time(s): give one route per mount"
            )
        return list(zip(routes, mounts, strict=True))

    def _normalize_static_paths(self) -> None:
        """Routes as ``/a/b``; mounts absolute now, so a worker's working dir cannot move them."""
        self.resolved_static_paths()  # one route per mount
        if self.static_path_route is not None:
            routes = [_static_route(route) for route in self.static_path_route]
            object.__setattr__(self, "static_path_route", routes)
        if self.static_path_mount is not None:
            mounts = [_static_mount(mount) for mount in self.static_path_mount]
            object.__setattr__(self, "static_path_mount", mounts)
        name = self.static_path_dir_to_file
        if name is not None and (not name or "\0" in name or os.path.isabs(name)):
            raise ConfigurationError(
                f"Invalid value for --static-path-dir-to-file: {name!r} is not a relative "
                "file name (e.g. index.html)"
            )

    def replace(self, **changes: Any) -> ServerConfig:
        """A validated copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def options(cls) -> tuple[ConfigOption, ...]:
        """The table's rows, in declaration (``--help``) order."""
        return _options()

    @classmethod
    def option(cls, name: str) -> ConfigOption:
        return _option(name)


# -- the table as rows ----------------------------------------------------------------------
@functools.cache
def _options() -> tuple[ConfigOption, ...]:
    return tuple(
        ConfigOption(name=item.name, default=item.default, spec=item.metadata["option"])
        for item in dataclasses.fields(ServerConfig)
    )


@functools.cache
def _option(name: str) -> ConfigOption:
    for option in _options():
        if option.name == name:
            return option
    raise KeyError(name)


# -- per-option checks ------------------------------------------------------------------
def _normalize(option: ConfigOption, value: Any) -> Any:
    """``value`` converted to the field's stored form, or ``ConfigurationError``."""
    if value is None and option.default is None:
        return None
    spec = option.spec
    if spec.multiple:
        if isinstance(value, (str, bytes, os.PathLike)) or not isinstance(value, Sequence):
            raise ConfigurationError(f"Invalid value for {option.label}: expected a list")
        items = [_normalize_one(option, item) for item in value]
        return items or None
    return _normalize_one(option, value)


def _normalize_one(option: ConfigOption, value: Any) -> Any:
    kind = option.spec.kind
    if kind in _PATH_KINDS and kind != "json":
        if not isinstance(value, (str, os.PathLike)):
            raise _type_error(option, value, "a path")
        return value if isinstance(value, Path) else Path(value)
    if kind == "json":
        if not isinstance(value, dict):
            raise _type_error(option, value, "a dict (a logging dictConfig)")
        return value
    if kind == "choice":
        return _check_choice(option, value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise _type_error(option, value, "a boolean")
        return value
    if kind == "str":
        if not isinstance(value, str):
            raise _type_error(option, value, "a string")
        return value
    if kind in ("int", "duration", "octal"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise _type_error(option, value, "an integer")
        _check_range(option, value)
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _type_error(option, value, "a number")
        _check_finite(option, value)
        _check_range(option, value)
        return float(value)
    return value  # "object": the Python API passes it through


def _type_error(option: ConfigOption, value: object, expected: str) -> ConfigurationError:
    return ConfigurationError(
        f"Invalid value for {option.label}: expected {expected}, got {value!r}"
    )


def _check_choice(option: ConfigOption, value: object) -> str:
    text = value.value if isinstance(value, Enum) else value
    choices = option.spec.choice_values()
    if isinstance(text, str):
        if text in choices:
            return text
        if text.lower() in choices:
            return text.lower()
    listed = ", ".join(repr(choice) for choice in choices)
    raise ConfigurationError(f"Invalid value for {option.label}: {value!r} is not one of {listed}.")


def describe_range(low: float | None, high: float | None) -> str:
    """click's notation: ``x>=1``, ``1<=x<=60000``."""
    if low is not None and high is not None:
        return f"{_number(low)}<=x<={_number(high)}"
    if low is not None:
        return f"x>={_number(low)}"
    return f"x<={_number(high)}"


def _number(value: float | None) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _check_finite(option: ConfigOption, value: float) -> None:
    # nan passes every range check, and neither nan nor inf is a duration: a SIGHUP
    # with --respawn-interval nan or inf crashed the supervisor mid-respawn.
    if not math.isfinite(value):
        raise ConfigurationError(
            f"Invalid value for {option.label}: {value} is not a finite number."
        )


def _check_range(option: ConfigOption, value: float) -> None:
    low, high = option.spec.min, option.spec.max
    if (low is not None and value < low) or (high is not None and value > high):
        raise ConfigurationError(
            f"Invalid value for {option.label}: {value} is not in the range "
            f"{describe_range(low, high)}."
        )


def _check_implemented(option: ConfigOption, value: Any) -> None:
    implemented = option.spec.implemented
    if implemented is True or value == option.default:
        return
    if isinstance(implemented, tuple):
        if value in implemented:
            return
        what = f"{option.flag} {value}"
    elif option.spec.kind == "bool":
        what = (option.flag if value else option.secondary_flag) or option.name
    else:
        what = option.flag or option.name
    raise ConfigurationError(f"{what} is not implemented yet in granian-py")


def _static_route(route: str) -> str:
    """``static/`` → ``/static``: one leading slash, no trailing one (``/`` stays ``/``)."""
    if "\0" in route or "?" in route:
        raise ConfigurationError(
            f"Invalid value for --static-path-route: {route!r} is not a URL path"
        )
    return "/" + route.strip("/")


def _static_mount(mount: Path) -> Path:
    if not mount.is_dir():
        raise ConfigurationError(
            f"Invalid value for --static-path-mount: {str(mount)!r} is not a directory"
        )
    return Path(os.path.abspath(mount))


def _check_ip_literal(option: ConfigOption, value: str) -> None:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ConfigurationError(
            f"Invalid value for {option.label}: {value!r} is not an IP address "
            "(host names are not resolved)"
        ) from None


def _importable(module: str) -> bool:
    return importlib.util.find_spec(module) is not None
