"""Logging setup and the access log format (``granian.log``)."""

from granian_core.log import (
    DEFAULT_ACCESSLOG_FMT,
    LOGGING_CONFIG,
    LogLevels,
    access_logger,
    configure_logging,
    log_levels_map,
    logger,
)

__all__ = [
    "DEFAULT_ACCESSLOG_FMT",
    "LOGGING_CONFIG",
    "LogLevels",
    "access_logger",
    "configure_logging",
    "log_levels_map",
    "logger",
]
