"""HTTP/2 frames as bytes (RFC 9113 §4, §6): the 9-byte header, and the frames a server sends.

Every frame starts with a 9-byte header: a 24-bit payload length, an 8-bit type,
8 bits of flags, and a 31-bit stream id (the top bit is reserved and ignored on
receipt). Builders return ready-to-write ``bytes``; the connection appends them
to its output list, which is joined once per write. The parsers take received
payloads apart and raise :class:`~.errors.ProtocolError` on a malformed one.
"""

from __future__ import annotations

import struct
from typing import Final

from .errors import ProtocolError

__all__ = [
    "CANCEL",
    "COMPRESSION_ERROR",
    "CONNECT_ERROR",
    "CONTINUATION",
    "DATA",
    "DEFAULT_WINDOW",
    "ENHANCE_YOUR_CALM",
    "FLAG_ACK",
    "FLAG_END_HEADERS",
    "FLAG_END_STREAM",
    "FLAG_PADDED",
    "FLAG_PRIORITY",
    "FLOW_CONTROL_ERROR",
    "FRAME_HEADER",
    "FRAME_SIZE_ERROR",
    "GOAWAY",
    "HEADERS",
    "INTERNAL_ERROR",
    "MAX_FRAME_SIZE",
    "MAX_WINDOW",
    "MIN_FRAME_SIZE",
    "NO_ERROR",
    "PING",
    "PRIORITY",
    "PROTOCOL_ERROR",
    "PUSH_PROMISE",
    "REFUSED_STREAM",
    "RST_STREAM",
    "SETTINGS",
    "SETTINGS_ACK",
    "SETTING_ENABLE_CONNECT_PROTOCOL",
    "SETTING_ENABLE_PUSH",
    "SETTING_HEADER_TABLE_SIZE",
    "SETTING_INITIAL_WINDOW_SIZE",
    "SETTING_MAX_CONCURRENT_STREAMS",
    "SETTING_MAX_FRAME_SIZE",
    "SETTING_MAX_HEADER_LIST_SIZE",
    "STREAM_CLOSED",
    "STREAM_ID_MASK",
    "WINDOW_UPDATE",
    "frame_header",
    "goaway_frame",
    "headers_frames",
    "headers_payload",
    "parse_header",
    "parse_settings",
    "ping_frame",
    "rst_stream_frame",
    "settings_frame",
    "unpadded",
    "window_update_frame",
]

#: Frame types (RFC 9113 §6).
DATA: Final = 0x0
HEADERS: Final = 0x1
PRIORITY: Final = 0x2
RST_STREAM: Final = 0x3
SETTINGS: Final = 0x4
PUSH_PROMISE: Final = 0x5
PING: Final = 0x6
GOAWAY: Final = 0x7
WINDOW_UPDATE: Final = 0x8
CONTINUATION: Final = 0x9

#: Flags. ACK shares its bit with END_STREAM (they never apply to the same frame type).
FLAG_END_STREAM: Final = 0x1
FLAG_ACK: Final = 0x1
FLAG_END_HEADERS: Final = 0x4
FLAG_PADDED: Final = 0x8
FLAG_PRIORITY: Final = 0x20

#: Error codes (RFC 9113 §7).
NO_ERROR: Final = 0x0
PROTOCOL_ERROR: Final = 0x1
INTERNAL_ERROR: Final = 0x2
FLOW_CONTROL_ERROR: Final = 0x3
SETTINGS_TIMEOUT: Final = 0x4
STREAM_CLOSED: Final = 0x5
FRAME_SIZE_ERROR: Final = 0x6
REFUSED_STREAM: Final = 0x7
CANCEL: Final = 0x8
COMPRESSION_ERROR: Final = 0x9
CONNECT_ERROR: Final = 0xA
ENHANCE_YOUR_CALM: Final = 0xB

#: Settings (RFC 9113 §6.5.2; ENABLE_CONNECT_PROTOCOL is RFC 8441 §3).
SETTING_HEADER_TABLE_SIZE: Final = 0x1
SETTING_ENABLE_PUSH: Final = 0x2
SETTING_MAX_CONCURRENT_STREAMS: Final = 0x3
SETTING_INITIAL_WINDOW_SIZE: Final = 0x4
SETTING_MAX_FRAME_SIZE: Final = 0x5
SETTING_MAX_HEADER_LIST_SIZE: Final = 0x6
SETTING_ENABLE_CONNECT_PROTOCOL: Final = 0x8

#: RFC 9113 defaults, in force until a SETTINGS frame says otherwise, and bounds.
DEFAULT_WINDOW: Final = 65_535
MIN_FRAME_SIZE: Final = 16_384  # also the default MAX_FRAME_SIZE
MAX_FRAME_SIZE: Final = 16_777_215
#: The largest flow-control window (RFC 9113 §6.9.1).
MAX_WINDOW: Final = 2**31 - 1
#: The size of a frame header.
FRAME_HEADER: Final = 9
#: A stream id without its reserved top bit (also a WINDOW_UPDATE increment's mask).
STREAM_ID_MASK: Final = 0x7FFFFFFF

#: length (high 8 bits, low 16 bits), type, flags, stream id.
_HEADER = struct.Struct(">BHBBL")
_SETTING = struct.Struct(">HL")
_GOAWAY_BODY = struct.Struct(">LL")

SETTINGS_ACK: Final = b"\x00\x00\x00\x04\x01\x00\x00\x00\x00"


def frame_header(length: int, frame_type: int, flags: int, stream_id: int) -> bytes:
    """The 9-byte header of a frame."""
    return ((length << 48) | (frame_type << 40) | (flags << 32) | stream_id).to_bytes(9, "big")


def parse_header(buffer: bytes, offset: int) -> tuple[int, int, int, int]:
    """``(length, type, flags, stream_id)`` of the frame header at ``offset``."""
    high, low, frame_type, flags, stream_id = _HEADER.unpack_from(buffer, offset)
    return (high << 16) | low, frame_type, flags, stream_id & STREAM_ID_MASK


def unpadded(payload: bytes) -> bytes:
    """A PADDED frame's ``payload`` without its Pad Length byte and its padding."""
    if not payload:
        raise ProtocolError(FRAME_SIZE_ERROR, "PADDED frame without a Pad Length")
    stop = len(payload) - payload[0]
    if stop < 1:
        raise ProtocolError(PROTOCOL_ERROR, "Padding longer than the payload")
    return payload[1:stop]


def headers_payload(flags: int, stream_id: int, payload: bytes) -> tuple[bytes, bool]:
    """A HEADERS payload without padding and priority fields; True when the priority
    makes the stream depend on itself (a stream error, RFC 9113 §5.3.1)."""
    if flags & FLAG_PADDED:
        payload = unpadded(payload)
    if not flags & FLAG_PRIORITY:
        return payload, False
    if len(payload) < 5:
        raise ProtocolError(FRAME_SIZE_ERROR, "HEADERS too short for its priority")
    dependency = int.from_bytes(payload[:4], "big") & STREAM_ID_MASK
    return payload[5:], dependency == stream_id


def headers_frames(stream_id: int, block: bytes, end_stream: bool, max_size: int) -> list[bytes]:
    """HEADERS (+ CONTINUATION frames when ``block`` exceeds ``max_size``), headers and
    payloads as separate list items."""
    flags = FLAG_END_STREAM if end_stream else 0
    size = len(block)
    if size <= max_size:
        return [frame_header(size, HEADERS, flags | FLAG_END_HEADERS, stream_id), block]
    out = [frame_header(max_size, HEADERS, flags, stream_id), block[:max_size]]
    offset = max_size
    while offset < size:
        piece = block[offset : offset + max_size]
        offset += len(piece)
        last = FLAG_END_HEADERS if offset >= size else 0
        out += (frame_header(len(piece), CONTINUATION, last, stream_id), piece)
    return out


def settings_frame(settings: dict[int, int]) -> bytes:
    payload = b"".join(_SETTING.pack(code, value) for code, value in settings.items())
    return frame_header(len(payload), SETTINGS, 0, 0) + payload


def parse_settings(payload: bytes) -> list[tuple[int, int]]:
    """The ``(code, value)`` pairs of a SETTINGS payload (its length is a multiple of 6)."""
    return [_SETTING.unpack_from(payload, offset) for offset in range(0, len(payload), 6)]


def window_update_frame(stream_id: int, increment: int) -> bytes:
    return frame_header(4, WINDOW_UPDATE, 0, stream_id) + increment.to_bytes(4, "big")


def ping_frame(opaque: bytes, ack: bool = False) -> bytes:
    """A PING (``opaque`` is 8 bytes) or, with ``ack``, its acknowledgement."""
    return frame_header(8, PING, FLAG_ACK if ack else 0, 0) + opaque


def rst_stream_frame(stream_id: int, error_code: int) -> bytes:
    return frame_header(4, RST_STREAM, 0, stream_id) + error_code.to_bytes(4, "big")


def goaway_frame(last_stream_id: int, error_code: int, debug: bytes = b"") -> bytes:
    body = _GOAWAY_BODY.pack(last_stream_id, error_code) + debug
    return frame_header(len(body), GOAWAY, 0, 0) + body
