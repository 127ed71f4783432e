"""HTTP/2 limits derived from the ``http2_*`` options, and a configured ``H2Connection``.

Values the protocol forbids are clamped rather than rejected, because Granian's
option ranges are wider than RFC 9113 allows (``--http2-max-frame-size`` accepts
1024, the RFC's floor is 16384).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.settings import SettingCodes, Settings

from .hpack_encoder import LiteralEncoder

if TYPE_CHECKING:
    from granian_core.config import ServerConfig

__all__ = ["H2Settings", "new_connection"]

#: RFC 9113 §6.5.2 bounds and the window every connection starts with.
MIN_FRAME_SIZE = 16_384
MAX_FRAME_SIZE = 16_777_215
MAX_WINDOW = 2**31 - 1
DEFAULT_WINDOW = 65_535
#: Adaptive windows never grow beyond this (per stream and per connection).
ADAPTIVE_WINDOW_LIMIT = 16 * 1024 * 1024

#: Shared by every connection: the object is only read by h2. Inbound validation stays
#: on (smuggling defence); outbound checks are done by ``headers.response_headers``.
_H2_CONFIG = H2Configuration(
    client_side=False,
    header_encoding=None,
    validate_inbound_headers=True,
    validate_outbound_headers=False,
    normalize_outbound_headers=False,
)


def _clamp(value: int, low: int, high: int) -> int:
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
            stream_window=_clamp(config.http2_initial_stream_window_size, 0, MAX_WINDOW),
            # The connection window starts at 65535 whatever the settings say; it can only grow.
            connection_window=_clamp(
                config.http2_initial_connection_window_size, DEFAULT_WINDOW, MAX_WINDOW
            ),
            max_frame_size=_clamp(config.http2_max_frame_size, MIN_FRAME_SIZE, MAX_FRAME_SIZE),
            max_header_list_size=config.http2_max_headers_size,
            max_send_buffer_size=config.http2_max_send_buffer_size,
            adaptive_window=config.http2_adaptive_window,
            keep_alive_interval=None if interval_ms is None else interval_ms / 1000.0,
            keep_alive_timeout=float(config.http2_keep_alive_timeout),
            enable_connect_protocol=websockets and config.websockets,
        )


def new_connection(settings: H2Settings) -> H2Connection:
    """A server ``H2Connection`` whose preamble (SETTINGS + window raise) is ready to send.

    The local settings are installed before ``initiate_connection`` instead of via
    ``update_settings``, so they apply from the first frame (an ``update_settings``
    only applies once the peer ACKs it, leaving h2's defaults in force until then).
    """
    conn = H2Connection(config=_H2_CONFIG)
    # Stateless, cached response-head encoding (a fraction of hpack's cost per response).
    conn.encoder = LiteralEncoder()  # type: ignore[assignment]
    initial = {
        SettingCodes.MAX_CONCURRENT_STREAMS: settings.max_concurrent_streams,
        SettingCodes.INITIAL_WINDOW_SIZE: settings.stream_window,
        SettingCodes.MAX_FRAME_SIZE: settings.max_frame_size,
        SettingCodes.MAX_HEADER_LIST_SIZE: settings.max_header_list_size,
    }
    if settings.enable_connect_protocol:
        initial[SettingCodes.ENABLE_CONNECT_PROTOCOL] = 1
    conn.local_settings = Settings(client=False, initial_values=initial)
    # h2 copies these two from local_settings in its constructor: keep them in step.
    conn.max_inbound_frame_size = settings.max_frame_size
    conn.decoder.max_header_list_size = settings.max_header_list_size
    conn.initiate_connection()
    if settings.connection_window > DEFAULT_WINDOW:
        conn.increment_flow_control_window(settings.connection_window - DEFAULT_WINDOW)
    return conn
