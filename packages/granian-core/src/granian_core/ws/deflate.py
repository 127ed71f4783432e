"""Inbound size limits for wsproto, and permessage-deflate with a bounded inflate.

wsproto has no message size limit, and its ``PerMessageDeflate`` inflates
without ``max_length`` (a small frame can expand without bound before anyone
sees the size). Both are fixed with wsproto's extension hooks, which see every
inbound payload chunk:

- :class:`MessageSizeGuard`, always installed last, counts the bytes of the
  current message after decompression and fails it with 1009 past the limit. An
  uncompressed frame that announces too many bytes fails on its header, before
  its payload is even received. It also checks the order of fragments on each
  header (1002): wsproto does so only after the extensions saw the payload, so a
  stray continuation was counted into the last message (1009), and the code of a
  frame breaking both rules depended on how the bytes were split.
- :class:`BoundedDeflate` inflates each chunk to at most the guard's remaining
  budget plus one byte, so one more byte than allowed is ever produced.
"""

from __future__ import annotations

import zlib
from typing import Any

from wsproto.extensions import Extension, PerMessageDeflate
from wsproto.frame_protocol import CloseReason, Opcode, RsvBits

__all__ = ["BoundedDeflate", "MessageSizeGuard", "negotiate_extensions"]

_NO_RSV = RsvBits(False, False, False)
#: Trailer that RFC 7692 removes from each compressed message (the sync-flush marker).
_SYNC_TAIL = b"\x00\x00\xff\xff"
_DEFLATE = "permessage-deflate"
_DEFLATE_PARAMS = frozenset(
    {
        "client_no_context_takeover",
        "server_no_context_takeover",
        "client_max_window_bits",
        "server_max_window_bits",
    }
)


class MessageSizeGuard(Extension):
    """Counts the (decompressed) bytes of the current data message; 1009 past ``limit``."""

    name = "granian-message-size"  # never negotiated: installed directly

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self._counting = False
        self._compressed = False
        #: A data message has a complete frame and its final frame is still to come.
        self._in_message = False

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.size)

    def add(self, count: int) -> bool:
        """Count ``count`` more bytes of the message; False once over the limit."""
        self.size += count
        return self.size <= self.limit

    def enabled(self) -> bool:
        return True

    def offer(self) -> bool:
        return False

    def frame_inbound_header(
        self, proto: Any, opcode: Opcode, rsv: RsvBits, payload_length: int
    ) -> CloseReason | RsvBits:
        if opcode.iscontrol():
            self._counting = False
            return _NO_RSV
        # wsproto calls this again for the same frame while its masking key is still to
        # come, so nothing here may change state that a second call would read.
        if opcode is Opcode.CONTINUATION:
            if not self._in_message:
                return CloseReason.PROTOCOL_ERROR  # nothing to continue (RFC 6455 5.4)
        elif self._in_message:
            return CloseReason.PROTOCOL_ERROR  # a new message inside a fragmented one
        else:  # the first frame of a message
            self.size = 0
            self._compressed = rsv.rsv1
        self._counting = True
        if not self._compressed and self.size + payload_length > self.limit:
            return CloseReason.MESSAGE_TOO_BIG  # refuse before the payload arrives
        return _NO_RSV

    def frame_inbound_payload_data(self, proto: Any, data: bytes) -> bytes | CloseReason:
        if self._counting and not self.add(len(data)):
            return CloseReason.MESSAGE_TOO_BIG
        return data

    def frame_inbound_complete(self, proto: Any, fin: bool) -> bytes | CloseReason | None:
        if self._counting:  # a data frame: once per frame, unlike the header hook
            self._in_message = not fin
        return None


class BoundedDeflate(PerMessageDeflate):
    """``PerMessageDeflate`` whose inflate never outgrows the guard's budget."""

    def __init__(self, guard: MessageSizeGuard) -> None:
        super().__init__()
        self._guard = guard
        self._control = False

    def frame_inbound_header(
        self, proto: Any, opcode: Opcode, rsv: RsvBits, payload_length: int
    ) -> CloseReason | RsvBits:
        self._control = opcode.iscontrol()
        return super().frame_inbound_header(proto, opcode, rsv, payload_length)

    def frame_inbound_payload_data(self, proto: Any, data: bytes) -> bytes | CloseReason:
        if not self._inbound_compressed or not self._inbound_is_compressible:
            return data
        decompressor = self._decompressor
        assert decompressor is not None
        try:
            # One byte more than allowed is enough for the guard to fail the message.
            return decompressor.decompress(data, self._guard.remaining + 1)
        except zlib.error:
            return CloseReason.INVALID_FRAME_PAYLOAD_DATA

    def frame_inbound_complete(self, proto: Any, fin: bool) -> bytes | CloseReason | None:
        if not fin or self._control:
            # A ping or pong between two fragments leaves the message's state alone:
            # wsproto's own hook reset it there, so the next fragment's compressed bytes
            # were taken as plain data (RFC 6455 5.4 allows control frames in between).
            return None
        compressed = self._inbound_compressed and self._inbound_is_compressible
        self._inbound_compressed = None
        if not compressed:
            return None
        decompressor = self._decompressor
        assert decompressor is not None
        budget = self._guard.remaining
        try:
            data = decompressor.decompress(_SYNC_TAIL, budget + 1)
            if len(data) > budget:
                return CloseReason.MESSAGE_TOO_BIG  # flush() would inflate the rest unbounded
            data += decompressor.flush()
        except zlib.error:
            return CloseReason.INVALID_FRAME_PAYLOAD_DATA
        # The tail bypasses the guard's payload hook: count it here.
        if not self._guard.add(len(data)):
            return CloseReason.MESSAGE_TOO_BIG
        if self.client_no_context_takeover:
            self._decompressor = None
        return data


def negotiate_extensions(
    offers: list[str], limit: int, compression: bool
) -> tuple[bytes | None, list[Extension]]:
    """The ``Sec-WebSocket-Extensions`` answer and the extensions for a server connection.

    The first acceptable permessage-deflate offer wins (offers with parameters
    RFC 7692 does not define are declined). The size guard always comes last,
    so it sees decompressed bytes.
    """
    guard = MessageSizeGuard(limit)
    if compression:
        for offer in offers:
            name, _, params = offer.partition(";")
            normalized = _normalized_offer(params) if name.strip() == _DEFLATE else None
            if normalized is None:
                continue
            deflate = BoundedDeflate(guard)
            accepted = deflate.accept(normalized)
            if isinstance(accepted, str):
                header = _DEFLATE + "; " + accepted if accepted else _DEFLATE
                return header.encode("ascii"), [deflate, guard]
    return None, [guard]


def _normalized_offer(params: str) -> str | None:
    """The offer with its parameters checked and unquoted, for wsproto; ``None`` to
    decline it. RFC 7692 §7 lets a server accept only parameters it defines, each at most
    once, the no-context-takeover ones without a value, window bits 8..15 (required for
    the server's, optional for the client's), a value possibly a quoted-string (§7.1)."""
    parts = [_DEFLATE]
    seen: set[str] = set()
    for param in params.split(";"):
        name, has_value, raw = param.partition("=")
        name = name.strip()
        if not name:
            if has_value:
                return None
            continue
        if name not in _DEFLATE_PARAMS or name in seen:
            return None
        seen.add(name)
        value = raw.strip()
        if len(value) > 1 and value[0] == value[-1] == '"':
            value = value[1:-1]
        if name.endswith("no_context_takeover"):
            if has_value:
                return None
            parts.append(name)
        elif has_value or name == "server_max_window_bits":
            if not (value.isascii() and value.isdigit() and value[0] != "0"):
                return None
            if not 8 <= int(value) <= 15:
                return None
            parts.append(f"{name}={value}")
        else:
            parts.append(name)
    return "; ".join(parts)
