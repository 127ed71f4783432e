"""``HTTP1Settings`` and ``HTTP2Settings``: Granian's grouped HTTP options.

granian-py's option table is flat (``http1_keep_alive``, ``http2_max_frame_size``
...); these dataclasses are the Python API's view of it. Their defaults are read
from the table, so the two cannot disagree.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from granian_core.config import ServerConfig

__all__ = ["HTTP1Settings", "HTTP2Settings", "flatten_http_settings"]


def _default(name: str) -> Any:
    return ServerConfig.option(name).default


#: Settings field → option table field.
HTTP1_FIELDS = {
    "header_read_timeout": "http1_header_read_timeout",
    "keep_alive": "http1_keep_alive",
    "max_buffer_size": "http1_buffer_size",
    "pipeline_flush": "http1_pipeline_flush",
}
HTTP2_FIELDS = {
    name: f"http2_{name}"
    for name in (
        "adaptive_window",
        "initial_connection_window_size",
        "initial_stream_window_size",
        "keep_alive_interval",
        "keep_alive_timeout",
        "max_concurrent_streams",
        "max_frame_size",
        "max_headers_size",
        "max_send_buffer_size",
    )
}


@dataclass
class HTTP1Settings:
    header_read_timeout: int = _default("http1_header_read_timeout")  # ms
    keep_alive: bool = _default("http1_keep_alive")
    max_buffer_size: int = _default("http1_buffer_size")
    pipeline_flush: bool = _default("http1_pipeline_flush")


@dataclass
class HTTP2Settings:
    adaptive_window: bool = _default("http2_adaptive_window")
    initial_connection_window_size: int = _default("http2_initial_connection_window_size")
    initial_stream_window_size: int = _default("http2_initial_stream_window_size")
    keep_alive_interval: int | None = _default("http2_keep_alive_interval")  # ms
    keep_alive_timeout: int = _default("http2_keep_alive_timeout")  # s
    max_concurrent_streams: int = _default("http2_max_concurrent_streams")
    max_frame_size: int = _default("http2_max_frame_size")
    max_headers_size: int = _default("http2_max_headers_size")
    max_send_buffer_size: int = _default("http2_max_send_buffer_size")


def flatten_http_settings(
    http1: HTTP1Settings | None, http2: HTTP2Settings | None
) -> dict[str, Any]:
    """The option-table fields the two settings objects stand for (none if ``None``)."""
    flat: dict[str, Any] = {}
    if http1 is not None:
        flat.update((HTTP1_FIELDS[key], value) for key, value in asdict(http1).items())
    if http2 is not None:
        flat.update((HTTP2_FIELDS[key], value) for key, value in asdict(http2).items())
    return flat
