"""HTTP/2 limits derived from the ``http2_*`` options, and a configured ``ServerConnection``.

Values the protocol forbids are clamped rather than rejected, because Granian's
option ranges are wider than RFC 9113 allows (``--http2-max-frame-size`` accepts
1024, the RFC's floor is 16384).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .connection import ServerConnection
from .frames import (
    DEFAULT_WINDOW,
    MAX_FRAME_SIZE,
    MAX_WINDOW,
    MIN_FRAME_SIZE,
    SETTING_ENABLE_CONNECT_PROTOCOL,
    SETTING_INITIAL_WINDOW_SIZE,
    SETTING_MAX_CONCURRENT_STREAMS,
    SETTING_MAX_FRAME_SIZE,
    SETTING_MAX_HEADER_LIST_SIZE,
)

if TYPE_CHECKING:
    from granian_core.config import ServerConfig

    from .connection import ConnectionEvents

__all__ = ["H2Settings", "clamped_options", "new_connection"]

#: Adaptive windows never grow beyond this (per stream and per connection).
ADAPTIVE_WINDOW_LIMIT = 16 * 1024 * 1024


#: The options HTTP/2 bounds tighter than their own ranges: field → (flag, low, high).
#: The connection window starts at 65535 whatever the settings say: it can only grow.
_BOUNDED = {
    "http2_initial_stream_window_size": ("--http2-initial-stream-window-size", 0, MAX_WINDOW),
    "http2_initial_connection_window_size": (
        "--http2-initial-connection-window-size",
        DEFAULT_WINDOW,
        MAX_WINDOW,
    ),
    "http2_max_frame_size": ("--http2-max-frame-size", MIN_FRAME_SIZE, MAX_FRAME_SIZE),
}


def _bounded(config: ServerConfig, field: str) -> int:
    """The option ``field`` of ``config``, clamped to what HTTP/2 can use."""
    _, low, high = _BOUNDED[field]
    value: int = getattr(config, field)
    return max(low, min(value, high))


@dataclass(frozen=True, slots=True)
class H2Settings:
    """The per-connection HTTP/2 limits, computed once per worker."""

    max_concurrent_streams: int = 200
    stream_window: int = 1_048_576
    connection_window: int = 1_048_576
    max_frame_size: int = MIN_FRAME_SIZE
    max_header_list_size: int = 16_777_216
    max_send_buffer_size: int = 409_600
    adaptive_window: bool = False
    keep_alive_interval: float | None = None  # seconds
    keep_alive_timeout: float = 20.0  # seconds
    #: RFC 8441: advertise extended CONNECT (WebSockets over HTTP/2).
    enable_connect_protocol: bool = False

    @classmethod
    def from_config(cls, config: ServerConfig, websockets: bool = False) -> H2Settings:
        """The limits of ``config``; ``websockets`` when the interface serves sessions."""
        interval_ms = config.http2_keep_alive_interval
        return cls(
            max_concurrent_streams=config.http2_max_concurrent_streams,
            stream_window=_bounded(config, "http2_initial_stream_window_size"),
            connection_window=_bounded(config, "http2_initial_connection_window_size"),
            max_frame_size=_bounded(config, "http2_max_frame_size"),
            max_header_list_size=config.http2_max_headers_size,
            max_send_buffer_size=config.http2_max_send_buffer_size,
            adaptive_window=config.http2_adaptive_window,
            keep_alive_interval=None if interval_ms is None else interval_ms / 1000.0,
            keep_alive_timeout=float(config.http2_keep_alive_timeout),
            enable_connect_protocol=websockets and config.websockets,
        )


def clamped_options(config: ServerConfig) -> list[str]:
    """One warning per ``http2_*`` option that :meth:`H2Settings.from_config` clamps."""
    warnings = []
    for field, (flag, low, high) in _BOUNDED.items():
        value, used = getattr(config, field), _bounded(config, field)
        if used != value:
            warnings.append(
                f"{flag} {value} is outside what HTTP/2 can use ({low}..{high}): using {used}"
            )
    return warnings


def new_connection(settings: H2Settings, handler: ConnectionEvents) -> ServerConnection:
    """A ``ServerConnection`` whose preamble (SETTINGS + window raise) is ready to send.

    The local settings are in force from the first frame received, not only once the
    client acknowledges them, but for a stream window below 65535, which waits for the
    ACK as later changes (``update_settings``) do.
    """
    local = {
        SETTING_MAX_CONCURRENT_STREAMS: settings.max_concurrent_streams,
        SETTING_INITIAL_WINDOW_SIZE: settings.stream_window,
        SETTING_MAX_FRAME_SIZE: settings.max_frame_size,
        SETTING_MAX_HEADER_LIST_SIZE: settings.max_header_list_size,
    }
    if settings.enable_connect_protocol:
        local[SETTING_ENABLE_CONNECT_PROTOCOL] = 1
    return ServerConnection(handler, local, settings.connection_window)
