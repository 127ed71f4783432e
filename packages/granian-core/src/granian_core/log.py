"""Logging setup and the access log (Granian's ``granian.log``).

Two loggers: ``_granian`` for server messages and ``granian.access`` for one
line per request. ``configure_logging`` installs Granian's default dictConfig
(or a user's, merged over it); :class:`AccessLogger` turns a finished exchange
into an access line, building only the atoms its format uses.
"""

from __future__ import annotations

import copy
import logging
import logging.config
import re
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol

from .errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Callable

    from .exchange import ConnectionInfo, Headers

__all__ = [
    "DEFAULT_ACCESSLOG_FMT",
    "LOGGING_CONFIG",
    "AccessLogger",
    "LogLevels",
    "RequestInfo",
    "access_logger",
    "configure_logging",
    "log_levels_map",
    "logger",
    "server_logger",
    "validate_access_log_format",
]


class LogLevels(str, Enum):
    critical = "critical"
    error = "error"
    warning = "warning"
    warn = "warn"
    info = "info"
    debug = "debug"
    notset = "notset"


log_levels_map: dict[LogLevels, int] = {
    LogLevels.critical: logging.CRITICAL,
    LogLevels.error: logging.ERROR,
    LogLevels.warning: logging.WARNING,
    LogLevels.warn: logging.WARNING,
    LogLevels.info: logging.INFO,
    LogLevels.debug: logging.DEBUG,
    LogLevels.notset: logging.NOTSET,
}

LOGGING_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        # The date format matters to a user config that adds %(asctime)s to these.
        "generic": {
            "()": "logging.Formatter",
            "fmt": "[%(levelname)s] %(message)s",
            "datefmt": "[%Y-%m-%d %H:%M:%S %z]",
        },
        "access": {
            "()": "logging.Formatter",
            "fmt": "%(message)s",
            "datefmt": "[%Y-%m-%d %H:%M:%S %z]",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "generic",
            "stream": "ext://sys.stdout",
        },
        "access": {
            "class": "logging.StreamHandler",
            "formatter": "access",
            "stream": "ext://sys.stdout",
        },
    },
    "loggers": {
        "_granian": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "granian.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
    },
}

DEFAULT_ACCESSLOG_FMT = (
    '[%(time)s] %(addr)s - "%(method)s %(path)s %(protocol)s" %(status)d %(dt_ms).3f'
)

#: Named ``_granian`` like Granian's, so users' logging configs keep working.
server_logger = logging.getLogger("_granian")
logger = server_logger  # Granian's name for it
access_logger = logging.getLogger("granian.access")

#: Above CRITICAL: what ``--no-log`` sets on the server logger.
_SILENT = logging.CRITICAL + 1


def configure_logging(
    level: LogLevels | str = LogLevels.info,
    config: dict[str, Any] | None = None,
    enabled: bool = True,
) -> None:
    """Apply the default dictConfig, ``config``'s top-level keys replacing its own."""
    log_config = copy.deepcopy(LOGGING_CONFIG)
    if config:
        log_config.update(copy.deepcopy(config))
    loggers = log_config.setdefault("loggers", {})
    loggers.setdefault("_granian", {})["level"] = log_levels_map[_parse_level(level)]
    try:
        logging.config.dictConfig(log_config)
    except (ValueError, TypeError, AttributeError, ImportError) as exc:
        raise ConfigurationError(f"Invalid logging configuration: {_describe(exc)}") from None
    if not enabled:
        server_logger.setLevel(_SILENT)


def _describe(exc: BaseException) -> str:
    """dictConfig's error and its causes on one line ("Unable to configure handler 'x':
    No module named 'nonexist'")."""
    parts = [str(exc) or type(exc).__name__]
    cause = exc.__cause__ or exc.__context__
    while cause is not None and len(parts) < 4:
        text = str(cause) or type(cause).__name__
        if not any(text in part for part in parts):  # causes often repeat themselves
            parts.append(text)
        cause = cause.__cause__ or cause.__context__
    return ": ".join(parts)


def _parse_level(level: LogLevels | str) -> LogLevels:
    try:
        return LogLevels(level.lower())
    except ValueError:
        choices = ", ".join(member.value for member in LogLevels)
        raise ConfigurationError(f"Invalid log level {level!r} (choose from {choices})") from None


# -- access log --------------------------------------------------------------------------


class RequestInfo(Protocol):
    """The request facts the access log reads; :class:`~.exchange.HTTPExchange` has them."""

    conn: ConnectionInfo
    method: str
    http_version: str
    query_string: bytes
    headers: Headers

    @property
    def path(self) -> str: ...


_TIME_FORMAT = "%Y-%m-%d %H:%M:%S %z"
_PROTOCOLS = {"1.0": "HTTP/1.0", "1.1": "HTTP/1.1", "2": "HTTP/2"}
_WS_SCHEMES = {"http": "ws", "https": "wss"}
#: ``%%`` (a literal percent) or ``%(name)``: the mapping keys a format reads.
_FORMAT_KEY = re.compile(r"%(?:%|\((?P<name>[^)]*)\))")
#: Header atoms: ``%(header{Name})s`` and Gunicorn/Granian-style ``%({Name}i)s``.
_HEADER_ATOM = re.compile(r"^(?:header\{(?P<a>[^}]+)\}|\{(?P<b>[^}]+)\}i)$")
#: Characters a client could use to forge or split log lines.
_UNSAFE = re.compile(r'["\\\x00-\x1f\x7f]')


def _escape_char(match: re.Match[str]) -> str:
    char = match.group()
    if char in '"\\':
        return "\\" + char
    return f"\\x{ord(char):02x}"


def _safe(value: str) -> str:
    """Client-supplied text, with quotes and control characters escaped."""
    if _UNSAFE.search(value) is None:
        return value
    return _UNSAFE.sub(_escape_char, value)


def _addr(req: RequestInfo, started_at: float, duration: float, status: int) -> str:
    client = req.conn.client
    if client is not None:
        return client[0]
    return req.conn.unix_path or "-"


def _dt_ms(req: RequestInfo, started_at: float, duration: float, status: int) -> float:
    return duration * 1000.0


def _status(req: RequestInfo, started_at: float, duration: float, status: int) -> int:
    return status


def _path(req: RequestInfo, started_at: float, duration: float, status: int) -> str:
    return _safe(req.path)


def _query_string(req: RequestInfo, started_at: float, duration: float, status: int) -> str:
    return _safe(req.query_string.decode("latin-1"))


def _method(req: RequestInfo, started_at: float, duration: float, status: int) -> str:
    return _safe(req.method)


def _scheme(req: RequestInfo, started_at: float, duration: float, status: int) -> str:
    if status == 101:  # a WebSocket session: Granian logs ws/wss
        return _WS_SCHEMES.get(req.conn.scheme, req.conn.scheme)
    return req.conn.scheme


def _protocol(req: RequestInfo, started_at: float, duration: float, status: int) -> str:
    version = req.http_version
    return _PROTOCOLS.get(version) or "HTTP/" + version


#: The builder of each atom: ``(request, started_at, duration, status) -> value``.
_BUILDERS: dict[str, Callable[[RequestInfo, float, float, int], object]] = {
    "addr": _addr,
    "dt_ms": _dt_ms,
    "status": _status,
    "path": _path,
    "query_string": _query_string,
    "method": _method,
    "scheme": _scheme,
    "protocol": _protocol,
}

#: Stand-in values used to check a format once, before any request.
_SAMPLE_ATOMS: dict[str, object] = {
    "addr": "127.0.0.1",
    "time": "2000-01-01 00:00:00 +0000",
    "dt_ms": 0.0,
    "status": 200,
    "path": "/",
    "query_string": "",
    "method": "GET",
    "scheme": "http",
    "protocol": "HTTP/1.1",
}


def _atom_names(fmt: str) -> list[str]:
    """The mapping keys ``fmt`` reads, in order of first use."""
    names = (match.group("name") for match in _FORMAT_KEY.finditer(fmt))
    return list(dict.fromkeys(name for name in names if name is not None))


def _header_name(atom: str) -> bytes | None:
    match = _HEADER_ATOM.match(atom)
    if match is None:
        return None
    name = match.group("a") or match.group("b")
    return name.strip().lower().encode("latin-1", "replace")


def validate_access_log_format(fmt: str) -> None:
    """Raise :class:`ConfigurationError` if ``fmt`` cannot format an access line."""
    sample: dict[str, object] = dict.fromkeys(_atom_names(fmt), "-")
    sample.update((name, value) for name, value in _SAMPLE_ATOMS.items() if name in sample)
    try:
        fmt % sample
    except (TypeError, ValueError, KeyError) as exc:
        raise ConfigurationError(f"Invalid access log format {fmt!r}: {exc}") from None


class AccessLogger:
    """Writes one ``granian.access`` line per request, in a %-style atom format.

    The format is parsed once: each line builds only the atoms the format
    names. Unknown atoms read as ``-``, as do absent request headers.
    """

    __slots__ = (
        "_builders",
        "_defaults",
        "_headers",
        "_logger",
        "_time_second",
        "_time_text",
        "_uses_time",
        "fmt",
    )

    def __init__(self, fmt: str | None = None, logger: logging.Logger = access_logger) -> None:
        self.fmt = fmt or DEFAULT_ACCESSLOG_FMT
        validate_access_log_format(self.fmt)
        self._logger = logger
        names = _atom_names(self.fmt)
        self._builders = tuple((name, _BUILDERS[name]) for name in names if name in _BUILDERS)
        headers = ((name, _header_name(name)) for name in names)
        self._headers = tuple((name, header) for name, header in headers if header is not None)
        self._uses_time = "time" in names
        # Every other key the format reads: always "-".
        self._defaults: dict[str, object] = {
            name: "-" for name in names if name not in _BUILDERS and name != "time"
        }
        self._time_second = -1
        self._time_text = ""

    def log(self, exchange: RequestInfo, started_at: float, duration: float, status: int) -> None:
        """Log a finished request: ``started_at`` from ``time.time()``, ``duration`` in s."""
        if self._logger.isEnabledFor(logging.INFO):
            self._emit(exchange, started_at, duration, status)

    def log_websocket(self, request: RequestInfo, started_at: float, status: int = 101) -> None:
        """Log an accepted WebSocket session when it starts (101, or 200 on HTTP/2)."""
        if self._logger.isEnabledFor(logging.INFO):
            self._emit(request, started_at, 0.0, status)

    def _emit(self, req: RequestInfo, started_at: float, duration: float, status: int) -> None:
        atoms = self._defaults.copy()
        for name, build in self._builders:
            atoms[name] = build(req, started_at, duration, status)
        for name, header in self._headers:
            atoms[name] = _header_value(req.headers, header)
        if self._uses_time:
            atoms["time"] = self._format_time(started_at)
        if atoms:
            self._logger.info(self.fmt, atoms)
        else:  # logging only %-formats when given arguments
            self._logger.info("%s", self.fmt % {})

    def _format_time(self, timestamp: float) -> str:
        # Lines share their second: format it once per second, not once per request.
        second = int(timestamp)
        if second != self._time_second:
            self._time_text = datetime.fromtimestamp(second).astimezone().strftime(_TIME_FORMAT)
            self._time_second = second
        return self._time_text


def _header_value(headers: Headers, wanted: bytes) -> str:
    values = [value for name, value in headers if name == wanted]
    if not values:
        return "-"
    return _safe(b", ".join(values).decode("latin-1"))
