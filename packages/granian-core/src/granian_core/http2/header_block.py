"""``HeaderBlock``: a request header block arriving over HEADERS + CONTINUATION frames."""

from __future__ import annotations

from .errors import ProtocolError
from .frames import ENHANCE_YOUR_CALM, MIN_FRAME_SIZE, PROTOCOL_ERROR

__all__ = ["MIN_CONTINUATIONS", "HeaderBlock", "max_continuations"]

#: CONTINUATION frames allowed per header block beyond what a block of the largest
#: allowed size needs in minimum-size frames: an empty-CONTINUATION flood costs nothing
#: in bytes, so the count is bounded too.
MIN_CONTINUATIONS = 64


def max_continuations(max_header_list_size: int) -> int:
    """CONTINUATION frames a block may use: enough for the advertised header list size
    in 16 KiB frames (the size every client may send), plus a margin."""
    return MIN_CONTINUATIONS + max_header_list_size // MIN_FRAME_SIZE


class HeaderBlock:
    """The fragments of one header block so far (RFC 9113 §6.10), with its HEADERS flags.

    The connection accepts no other frame until the block ends (END_HEADERS).
    """

    __slots__ = (
        "_continuations",
        "_max_continuations",
        "_max_size",
        "_parts",
        "_size",
        "bad_priority",
        "end_stream",
        "stream_id",
    )

    def __init__(
        self,
        stream_id: int,
        end_stream: bool,
        bad_priority: bool,
        fragment: bytes,
        max_header_list_size: int,
    ) -> None:
        self.stream_id = stream_id
        self.end_stream = end_stream
        self.bad_priority = bad_priority  # the stream depends on itself: reset once decoded
        self._parts = [fragment]
        self._size = len(fragment)
        # A cheap bound on the encoded bytes held; the decoder enforces the exact limit.
        self._max_size = max_header_list_size + MIN_FRAME_SIZE
        self._continuations = 0
        self._max_continuations = max_continuations(max_header_list_size)

    def add(self, fragment: bytes) -> None:
        """A CONTINUATION's fragment; raises :class:`ProtocolError` past the bounds."""
        self._continuations += 1
        if self._continuations > self._max_continuations:
            raise ProtocolError(PROTOCOL_ERROR, "Too many CONTINUATION frames")
        self._size += len(fragment)
        if self._size > self._max_size:
            raise ProtocolError(ENHANCE_YOUR_CALM, "Header block too large")
        self._parts.append(fragment)

    def join(self) -> bytes:
        return b"".join(self._parts)
