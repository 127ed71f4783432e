"""RFC 6455 framing for the server side, without extensions: our own :class:`~.codec.Codec`.

:class:`FrameCodec` (no extension negotiated: the common case) is a compact
parser and serializer: whole messages are delivered as ``str``/``bytes``, no
per-frame objects, unmasking with one big-integer XOR (small payloads) or four
strided ``bytes.translate`` (large ones), precomputed headers for short frames.
Sessions that negotiated permessage-deflate use :mod:`.wsproto_codec` instead.

Violations fail with wsproto's close codes: 1002 for a bad frame (unmasked,
RSV bits, unknown opcode, fragmented or long control frame, out-of-order
continuation, non-minimal or 64-bit-MSB length, bad close code or one-byte close
payload), 1007 for invalid UTF-8 (text, close reason) and 1009 for a message over
``max_message_size``, refused on its declared length before any payload is held.
After a close frame or a violation the codec ignores all further input.
"""

from __future__ import annotations

import codecs
import struct
from collections.abc import Callable

from granian_core.websocket import (
    INVALID_PAYLOAD,
    MESSAGE_TOO_BIG,
    NO_STATUS,
    PROTOCOL_ERROR,
    is_valid_close_code,
)

from .codec import FrameHandler, WSState, join_fragments

__all__ = ["FrameCodec"]


_OPEN = WSState.OPEN
_LOCAL_CLOSING = WSState.LOCAL_CLOSING
_REMOTE_CLOSING = WSState.REMOTE_CLOSING
_CLOSED = WSState.CLOSED

_OP_CONTINUATION = 0x0
_OP_TEXT = 0x1
_OP_BINARY = 0x2
_OP_CLOSE = 0x8
_OP_PING = 0x9
_OP_PONG = 0xA
_FIN = 0x80
_MASKED = 0x80
_MAX_CONTROL_PAYLOAD = 125
#: Payloads up to this size unmask fastest as one big integer, larger ones with translate.
_INT_UNMASK_LIMIT = 2048
_CLOSE_REASON_LIMIT = _MAX_CONTROL_PAYLOAD - 2


def _first_byte_errors() -> list[str | None]:
    """Why each value of a frame's first byte is invalid for us (None: it is fine)."""
    errors: list[str | None] = []
    for byte in range(256):
        opcode = byte & 0x0F
        if byte & 0x70:
            errors.append("reserved bits set without an extension")
        elif opcode not in (_OP_CONTINUATION, _OP_TEXT, _OP_BINARY, _OP_CLOSE, _OP_PING, _OP_PONG):
            errors.append(f"unknown opcode {opcode:#x}")
        elif opcode & 0x08 and not byte & _FIN:
            errors.append("fragmented control frame")
        else:
            errors.append(None)
    return errors


_FIRST_BYTE_ERRORS = _first_byte_errors()


def _xor_tables() -> list[bytes]:
    """``bytes.translate`` tables: table ``k`` maps each byte ``b`` to ``b ^ k``."""
    identity = int.from_bytes(bytes(range(256)), "big")
    return [
        (identity ^ int.from_bytes(bytes((k,)) * 256, "big")).to_bytes(256, "big")
        for k in range(256)
    ]


_XOR_TABLES = _xor_tables()


def _unmask_large(buf: bytes | bytearray, start: int, stop: int) -> bytes:
    """The payload ``buf[start:stop]`` XOR its mask (the 4 bytes before it), by one strided
    translate per mask byte: faster than a big-integer XOR for large payloads."""
    mask = buf[start - 4 : start]
    with memoryview(buf) as view:  # one copy of the payload, released before buf may resize
        data = bytearray(view[start:stop])
    for offset in range(4):
        data[offset::4] = data[offset::4].translate(_XOR_TABLES[mask[offset]])
    return bytes(data)


def _headers(first_byte: int) -> list[bytes]:
    """The whole header of an unmasked frame for each payload length up to 125."""
    return [bytes((first_byte, length)) for length in range(_MAX_CONTROL_PAYLOAD + 1)]


_TEXT_HEADERS = _headers(_FIN | _OP_TEXT)
_BINARY_HEADERS = _headers(_FIN | _OP_BINARY)
_PING_HEADERS = _headers(_FIN | _OP_PING)
_PONG_HEADERS = _headers(_FIN | _OP_PONG)
_CLOSE_HEADERS = _headers(_FIN | _OP_CLOSE)
_pack_medium = struct.Struct("!BBH").pack
_pack_large = struct.Struct("!BBQ").pack
_pack_code = struct.Struct("!H").pack
_EMPTY_CLOSE = _CLOSE_HEADERS[0]


def _data_frame(first_byte: int, short_headers: list[bytes], payload: bytes) -> bytes:
    length = len(payload)
    if length <= _MAX_CONTROL_PAYLOAD:
        return short_headers[length] + payload
    if length <= 0xFFFF:
        return _pack_medium(first_byte, 126, length) + payload
    return _pack_large(first_byte, 127, length) + payload


def _control_frame(headers: list[bytes], payload: bytes) -> bytes:
    if len(payload) > _MAX_CONTROL_PAYLOAD:
        raise ValueError("control frame payloads are at most 125 bytes")
    return headers[len(payload)] + payload


def _close_payload(code: int, reason: str) -> bytes:
    encoded = reason.encode("utf-8")
    if len(encoded) > _CLOSE_REASON_LIMIT:  # cut on a character boundary
        encoded = encoded[:_CLOSE_REASON_LIMIT].decode("utf-8", "ignore").encode("utf-8")
    return _pack_code(code) + encoded


def _after_our_close(state: WSState) -> WSState:
    if state is _OPEN:
        return _LOCAL_CLOSING
    if state is _REMOTE_CLOSING:
        return _CLOSED
    raise RuntimeError(f"a close frame was already sent (state {state.name})")


_Utf8Decoder = codecs.getincrementaldecoder("utf-8")


class FrameCodec:
    """Server-side RFC 6455 framing without extensions; see the module docstring."""

    __slots__ = (
        "_decoder",
        "_fragment_opcode",
        "_fragment_parts",
        "_fragment_size",
        "_handler",
        "_max_message_size",
        "_on_message",
        "_on_ping",
        "_parsing",
        "_pending",
        "_wanted",
        "state",
    )

    def __init__(self, handler: FrameHandler, max_message_size: int) -> None:
        self.state = _OPEN
        self._handler = handler
        # Bound once: every message and ping goes through them.
        self._on_message: Callable[[str | bytes], None] = handler.message_received
        self._on_ping: Callable[[bytes], None] = handler.ping_received
        self._max_message_size = max_message_size
        #: Input that does not complete a frame yet, and how much of it is needed.
        self._pending = bytearray()
        self._wanted = 0
        self._parsing = True
        #: Opcode of the fragmented message in progress (0: none), its size and parts.
        self._fragment_opcode = 0
        self._fragment_size = 0
        self._fragment_parts: list[str | bytes] = []
        self._decoder: codecs.IncrementalDecoder | None = None

    def release_handler(self) -> None:
        del self._handler, self._on_message, self._on_ping

    # == inbound ==============================================================================
    def receive_data(self, data: bytes) -> None:
        """Parse ``data``; the handler hears about every complete frame in it."""
        if not self._parsing:
            return
        pending = self._pending
        if pending or type(data) is not bytes:  # a memoryview (say) is parsed from a copy
            pending += data
            if len(pending) < self._wanted:
                return  # still inside one frame: nothing to look at yet
            del pending[: self._parse(pending)]
        else:
            used = self._parse(data)
            if used < len(data):
                pending += memoryview(data)[used:]

    def _parse(self, buf: bytes | bytearray) -> int:
        """Handle every whole frame in ``buf``; return how many bytes they took."""
        from_bytes = int.from_bytes
        max_size = self._max_message_size
        end = len(buf)
        pos = 0
        while self._parsing:
            available = end - pos
            if available < 2:
                self._wanted = 2
                return pos
            first = buf[pos]
            second = buf[pos + 1]
            error = _FIRST_BYTE_ERRORS[first]
            if error is not None:
                self._fail(PROTOCOL_ERROR, error)
                return pos
            if not second & _MASKED:
                self._fail(PROTOCOL_ERROR, "unmasked client frame")
                return pos
            opcode = first & 0x0F
            length = second & 0x7F
            if length < 126:
                start = pos + 6
            elif opcode & 0x08:
                self._fail(PROTOCOL_ERROR, "control frame payload over 125 bytes")
                return pos
            elif length == 126:
                if available < 4:
                    self._wanted = 4  # enough to check the length
                    return pos
                length = buf[pos + 2] << 8 | buf[pos + 3]
                start = pos + 8
                if length < 126:
                    self._fail(PROTOCOL_ERROR, "payload length not minimally encoded")
                    return pos
            else:
                if available < 10:
                    self._wanted = 10
                    return pos
                length = from_bytes(buf[pos + 2 : pos + 10], "big")
                start = pos + 14
                if length >> 63:
                    self._fail(PROTOCOL_ERROR, "64-bit payload length with the top bit set")
                    return pos
                if length <= 0xFFFF:
                    self._fail(PROTOCOL_ERROR, "payload length not minimally encoded")
                    return pos
            if not opcode & 0x08:
                # A new message within the limit (the common case) needs no other check.
                simple = opcode and not self._fragment_opcode and length <= max_size
                if not simple and not self._data_frame_allowed(opcode, length):
                    return pos
            stop = start + length
            if stop > end:
                self._wanted = stop - pos
                return pos
            if length <= _INT_UNMASK_LIMIT:
                # XOR with the mask repeated over the payload (aligned on its first byte).
                payload = (
                    from_bytes(buf[start:stop], "big")
                    ^ (
                        from_bytes(buf[start - 4 : start] * ((length + 3) >> 2), "big")
                        >> ((-length & 3) << 3)
                    )
                ).to_bytes(length, "big")
            else:
                payload = _unmask_large(buf, start, stop)
            pos = stop
            if first == 0x82:  # a whole binary message: the common case
                self._on_message(payload)
            elif first == 0x81:
                try:
                    text = payload.decode("utf-8")
                except UnicodeDecodeError:
                    self._fail(INVALID_PAYLOAD, "invalid UTF-8 in a text message")
                    return pos
                self._on_message(text)
            elif opcode & 0x08:
                self._control_frame(opcode, payload)
            else:
                self._fragment(opcode, first & _FIN, payload)
        return pos

    def _data_frame_allowed(self, opcode: int, length: int) -> bool:
        """Fragmentation order and the message size limit, checked on the header."""
        fragmented = self._fragment_opcode != 0
        if opcode == _OP_CONTINUATION and not fragmented:
            self._fail(PROTOCOL_ERROR, "continuation frame without a message to continue")
            return False
        if opcode != _OP_CONTINUATION and fragmented:
            self._fail(PROTOCOL_ERROR, "new data frame inside a fragmented message")
            return False
        if self._fragment_size + length > self._max_message_size:
            self._fail(MESSAGE_TOO_BIG, "Message too big")
            return False
        return True

    def _fragment(self, opcode: int, fin: int, payload: bytes) -> None:
        """A frame of a fragmented message: the first, a continuation, or the last."""
        if opcode != _OP_CONTINUATION:
            self._fragment_opcode = opcode
            if opcode == _OP_TEXT:
                decoder = self._decoder
                if decoder is None:
                    decoder = self._decoder = _Utf8Decoder()
                else:
                    decoder.reset()
        part: str | bytes = payload
        if self._fragment_opcode == _OP_TEXT:
            assert self._decoder is not None
            try:
                part = self._decoder.decode(payload, bool(fin))
            except UnicodeDecodeError:
                self._fail(INVALID_PAYLOAD, "invalid UTF-8 in a text message")
                return
        parts = self._fragment_parts
        if not fin:
            parts.append(part)
            self._fragment_size += len(payload)
            return
        if parts:
            parts.append(part)
            part = join_fragments(parts)
            parts.clear()
        self._fragment_opcode = 0
        self._fragment_size = 0
        self._on_message(part)

    def _control_frame(self, opcode: int, payload: bytes) -> None:
        if opcode == _OP_PING:
            self._on_ping(payload)
        elif opcode == _OP_PONG:
            self._handler.pong_received(payload)
        else:
            self._close_frame_received(payload)

    def _close_frame_received(self, payload: bytes) -> None:
        if not payload:
            code, reason = NO_STATUS, ""
        elif len(payload) == 1:
            self._fail(PROTOCOL_ERROR, "close frame with a one-byte payload")
            return
        else:
            code = payload[0] << 8 | payload[1]
            if not is_valid_close_code(code):
                self._fail(PROTOCOL_ERROR, f"invalid close code {code}")
                return
            try:
                reason = payload[2:].decode("utf-8")
            except UnicodeDecodeError:
                self._fail(INVALID_PAYLOAD, "invalid UTF-8 in the close reason")
                return
        self._stop()
        self.state = _CLOSED if self.state is _LOCAL_CLOSING else _REMOTE_CLOSING
        self._handler.close_received(code, reason)

    def _fail(self, code: int, reason: str) -> None:
        self._stop()
        self._handler.protocol_failed(code, reason)

    def _stop(self) -> None:
        """No more input is parsed (after a close frame or a violation): drop what is held."""
        self._parsing = False
        self._pending = bytearray()  # receive_data may still add to the old one
        self._fragment_parts.clear()

    # == outbound (server frames are not masked) ==============================================
    def text_frame(self, data: str) -> bytes:
        return _data_frame(_FIN | _OP_TEXT, _TEXT_HEADERS, data.encode("utf-8"))

    def binary_frame(self, data: bytes) -> bytes:
        return _data_frame(_FIN | _OP_BINARY, _BINARY_HEADERS, data)

    def ping(self, payload: bytes = b"") -> bytes:
        return _control_frame(_PING_HEADERS, payload)

    def pong(self, payload: bytes = b"") -> bytes:
        return _control_frame(_PONG_HEADERS, payload)

    def close_frame(self, code: int | None, reason: str = "") -> bytes:
        self.state = _after_our_close(self.state)
        if code is None or code == NO_STATUS:
            return _EMPTY_CLOSE
        return _control_frame(_CLOSE_HEADERS, _close_payload(code, reason))
