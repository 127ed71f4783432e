"""``ServerConnection``: the server side of one HTTP/2 connection, sans-IO (RFC 9113).

Bytes in: ``receive_data`` checks the client preface, parses frames out of the
buffer by offset, enforces the protocol (stream states, header blocks, flow control,
frame sizes, settings) and reports what happened by calling the methods of a
:class:`ConnectionEvents` handler, in order, as each frame is processed. A peer
violation that concerns one stream resets that stream (``RST_STREAM``); a
connection error queues ``GOAWAY`` and raises :class:`ProtocolError`, after which
the connection processes nothing more.

Bytes out: the ``send_*`` methods append ready frames to a list; ``data_to_send``
joins it once per write. PING and SETTINGS are acknowledged automatically.

What the server needs and nothing else: no server push, no priorities (parsed and
ignored, RFC 9113 §5.3.2, except a stream depending on itself), no client role.
Request header blocks are assembled by ``header_block``, decoded by ``hpack_decoder``
and validated by ``headers.parse_request_head``; response blocks are encoded by
``hpack_encoder.LiteralEncoder``. ``streams`` holds the per-stream records.
"""

from __future__ import annotations

import contextlib
from collections import deque
from typing import TYPE_CHECKING, Protocol

from .errors import ProtocolError, StreamClosedError
from .frames import (
    COMPRESSION_ERROR,
    CONTINUATION,
    DATA,
    DEFAULT_WINDOW,
    ENHANCE_YOUR_CALM,
    FLAG_ACK,
    FLAG_END_HEADERS,
    FLAG_END_STREAM,
    FLAG_PADDED,
    FLAG_PRIORITY,
    FLOW_CONTROL_ERROR,
    FRAME_HEADER,
    FRAME_SIZE_ERROR,
    HEADERS,
    MAX_FRAME_SIZE,
    MAX_WINDOW,
    MIN_FRAME_SIZE,
    NO_ERROR,
    PROTOCOL_ERROR,
    REFUSED_STREAM,
    SETTING_ENABLE_CONNECT_PROTOCOL,
    SETTING_ENABLE_PUSH,
    SETTING_HEADER_TABLE_SIZE,
    SETTING_INITIAL_WINDOW_SIZE,
    SETTING_MAX_CONCURRENT_STREAMS,
    SETTING_MAX_FRAME_SIZE,
    SETTING_MAX_HEADER_LIST_SIZE,
    SETTINGS,
    SETTINGS_ACK,
    STREAM_CLOSED,
    STREAM_ID_MASK,
    frame_header,
    goaway_frame,
    headers_frames,
    headers_payload,
    parse_header,
    parse_settings,
    ping_frame,
    rst_stream_frame,
    settings_frame,
    unpadded,
    window_update_frame,
)
from .header_block import HeaderBlock
from .headers import MalformedHeaders, parse_request_head, request_trailers
from .hpack_decoder import HeaderBlockDecoder, HeaderListTooLarge, HPACKError
from .hpack_encoder import LiteralEncoder
from .streams import ENDED, RESET_RECEIVED, RESET_SENT, ClosedStreams, StreamState

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from .headers import RequestHead

__all__ = [
    "PREFACE",
    "ConnectionEvents",
    "ProtocolError",
    "ServerConnection",
    "StreamClosedError",
]

#: What an HTTP/2 client sends first (RFC 9113 §3.4).
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#: Empty DATA frames without END_STREAM allowed in a row (CVE-2019-9518): they cost
#: the client no flow-control window, only us the work of each frame.
MAX_EMPTY_DATA_RUN = 1_000

_HEADERS_TYPE = HEADERS << 40  # the type byte of a frame header, as an int
#: The answer to a request whose header list is over --http2-max-headers-size (as Granian).
_HEADERS_TOO_LARGE = [(b":status", b"431")]
_PREFACE_SIZE = len(PREFACE)


class ConnectionEvents(Protocol):
    """What a :class:`ServerConnection` reports while it processes received frames."""

    def on_request(self, stream_id: int, head: RequestHead, ended: bool) -> None:
        """A new stream's valid request head; ``ended`` when it has no body."""

    def on_data(self, stream_id: int, data: bytes, flow_length: int) -> None:
        """Body bytes of an open stream; ``flow_length`` includes padding."""

    def on_discarded(self, flow_length: int) -> None:
        """DATA for a stream that is gone: its connection window credit must go back."""

    def on_trailers(self, stream_id: int, trailers: list[tuple[bytes, bytes]]) -> None:
        """The request's trailers (``on_stream_ended`` follows)."""

    def on_stream_ended(self, stream_id: int) -> None:
        """The request body is complete (the client's END_STREAM)."""

    def on_reset(self, stream_id: int, error_code: int, remote: bool) -> None:
        """The stream is closed: reset by the client (``remote``) or for its error by us."""

    def on_window_update(self, stream_id: int) -> None:
        """Send window grew: one stream's, or the connection's (``stream_id`` 0)."""

    def on_settings(self, changed: dict[int, int]) -> None:
        """The client's SETTINGS were applied (and acknowledged)."""

    def on_ping(self, opaque: bytes) -> None:
        """A PING (already acknowledged)."""

    def on_ping_ack(self, opaque: bytes) -> None:
        """The acknowledgement of one of our PINGs."""

    def on_terminated(self, error_code: int, last_stream_id: int) -> None:
        """The client sent GOAWAY. With an error code nothing more is processed; with
        NO_ERROR it closes gracefully and the frames of its open streams still are."""


class ServerConnection:
    """One HTTP/2 server connection; see the module docstring."""

    def __init__(
        self,
        handler: ConnectionEvents,
        local_settings: dict[int, int],
        connection_window: int = DEFAULT_WINDOW,
    ) -> None:
        """``local_settings`` are sent in the first SETTINGS frame and in force from the
        first frame received, but for a stream window below 65535: a client may send
        that much before it reads our SETTINGS (RFC 9113 3.4, 6.9.3), so a lower one
        applies once they are acknowledged. A ``connection_window`` over 65535 is
        announced with a WINDOW_UPDATE right after them."""
        self.handler = handler
        self.encoder = LiteralEncoder()
        self.decoder = HeaderBlockDecoder()
        self.streams: dict[int, StreamState] = {}
        self.highest_inbound_stream_id = 0
        # Local settings (what the client must respect).
        self.max_concurrent_streams = 2**31 - 1
        self.max_inbound_frame_size = MIN_FRAME_SIZE
        self._local_window = DEFAULT_WINDOW
        in_force = dict(local_settings)
        on_ack = {}  # what of the first SETTINGS waits for the client's ACK
        if in_force.get(SETTING_INITIAL_WINDOW_SIZE, DEFAULT_WINDOW) < DEFAULT_WINDOW:
            on_ack[SETTING_INITIAL_WINDOW_SIZE] = in_force.pop(SETTING_INITIAL_WINDOW_SIZE)
        self._apply_local(in_force)
        self._unacked: deque[dict[int, int]] = deque([on_ack])
        # Remote settings (what we respect).
        self.max_outbound_frame_size = MIN_FRAME_SIZE
        self._remote_window = DEFAULT_WINDOW
        # Connection windows: what we may send, what the client may still send.
        self._send_window = DEFAULT_WINDOW
        self._recv_window = max(connection_window, DEFAULT_WINDOW)
        self._out: list[bytes] = [settings_frame(local_settings)]
        if self._recv_window > DEFAULT_WINDOW:
            self._out.append(window_update_frame(0, self._recv_window - DEFAULT_WINDOW))
        # Input state.
        self._closed = False  # GOAWAY sent, or one with an error received: input ignored
        self._preface = True  # the client preface is still expected
        self._first_frame = True  # ... then its SETTINGS frame
        self._pending: list[bytes] = []  # input bytes not yet parsed
        self._pending_size = 0
        self._needed = _PREFACE_SIZE  # bytes needed before parsing can progress
        self._closed_streams = ClosedStreams()  # to judge frames arriving after the close
        self._block: HeaderBlock | None = None  # HEADERS without END_HEADERS so far
        self._empty_data_run = 0

    # == output ===============================================================================
    def data_to_send(self) -> bytes:
        """Everything queued since the last call, as one ``bytes``."""
        out = self._out
        if not out:
            return b""
        data = b"".join(out)
        out.clear()
        return data

    def send_headers(
        self, stream_id: int, headers: Iterable[tuple[bytes, bytes]], end_stream: bool = False
    ) -> None:
        """A response head or trailers (``end_stream``) as HEADERS (+ CONTINUATION)."""
        stream = self.streams.get(stream_id)
        if stream is None or not stream.local_open:
            raise StreamClosedError(stream_id)
        block = self.encoder.encode(headers)
        size = len(block)
        if size <= self.max_outbound_frame_size:
            flags = FLAG_END_HEADERS | FLAG_END_STREAM if end_stream else FLAG_END_HEADERS
            # frame_header(size, HEADERS, flags, stream_id), inlined: once per response.
            head = (size << 48 | _HEADERS_TYPE | flags << 32 | stream_id).to_bytes(9, "big")
            self._out += (head, block)
        else:
            self._out += headers_frames(stream_id, block, end_stream, self.max_outbound_frame_size)
        if end_stream:
            self._local_ended(stream_id, stream)

    def send_data(self, stream_id: int, data: bytes, end_stream: bool = False) -> None:
        """One DATA frame; ``data`` must fit the windows and the peer's frame size."""
        stream = self.streams.get(stream_id)
        if stream is None or not stream.local_open:
            raise StreamClosedError(stream_id)
        size = len(data)
        flags = FLAG_END_STREAM if end_stream else 0
        if size:
            if size > stream.send_window or size > self._send_window:
                raise ValueError("DATA larger than the flow-control window")
            if size > self.max_outbound_frame_size:
                raise ValueError("DATA larger than the peer's frame size")
            stream.send_window -= size
            self._send_window -= size
            # frame_header(size, DATA, flags, stream_id), inlined (DATA is type 0).
            self._out += ((size << 48 | flags << 32 | stream_id).to_bytes(9, "big"), data)
        else:
            self._out.append(frame_header(0, DATA, flags, stream_id))
        if end_stream:
            self._local_ended(stream_id, stream)

    def end_stream(self, stream_id: int) -> None:
        """END_STREAM on an empty DATA frame."""
        self.send_data(stream_id, b"", end_stream=True)

    def reset_stream(self, stream_id: int, error_code: int) -> None:
        """RST_STREAM; the stream is closed on both sides at once."""
        if self.streams.pop(stream_id, None) is None:
            raise StreamClosedError(stream_id)
        self._out.append(rst_stream_frame(stream_id, error_code))
        self._closed_streams.add(stream_id, RESET_SENT)

    def increment_flow_control_window(self, increment: int, stream_id: int | None = None) -> None:
        """Give the client ``increment`` bytes of window (WINDOW_UPDATE)."""
        if stream_id:
            stream = self.streams.get(stream_id)
            if stream is None:
                raise StreamClosedError(stream_id)
            stream.recv_window += increment
        else:
            self._recv_window += increment
        self._out.append(window_update_frame(stream_id or 0, increment))

    def update_settings(self, changes: dict[int, int]) -> None:
        """Send new local settings; they apply once the client acknowledges them."""
        self._out.append(settings_frame(changes))
        self._unacked.append(dict(changes))

    def ping(self, opaque: bytes) -> None:
        """A PING with 8 bytes of ``opaque`` data (answered by ``on_ping_ack``)."""
        self._out.append(ping_frame(opaque))

    def close_connection(self, error_code: int) -> None:
        """GOAWAY with ``error_code``; nothing more is received afterwards."""
        if not self._closed:
            self._out.append(goaway_frame(self.highest_inbound_stream_id, error_code))
            self._closed = True

    def local_flow_control_window(self, stream_id: int) -> int:
        """How many DATA bytes the stream may send now (both windows)."""
        stream = self.streams.get(stream_id)
        if stream is None:
            raise StreamClosedError(stream_id)
        window = stream.send_window
        return window if window < self._send_window else self._send_window

    # == input ================================================================================
    def release_handler(self) -> None:
        """The transport is gone and no frame will be received again: drop the handler.

        It refers back to this object; dropping it lets reference counting free the
        connection instead of leaving a cycle to the collector.
        """
        self._closed = True
        del self.handler

    def receive_data(self, data: bytes) -> None:
        """Process received bytes; raises :class:`ProtocolError` on a connection error."""
        if self._closed:
            return
        pending = self._pending
        if pending:
            pending.append(data)
            self._pending_size += len(data)
            if self._pending_size < self._needed:
                return  # a large frame still arriving: join once it is whole
            data = b"".join(pending)
            pending.clear()
        try:
            used = self._parse(data)
        except ProtocolError as exc:
            if not self._closed:
                self._closed = True
                self._out.append(goaway_frame(self.highest_inbound_stream_id, exc.error_code))
            raise
        if used < len(data) and not self._closed:
            rest = data[used:] if used else data
            pending.append(rest)
            self._pending_size = len(rest)

    def _parse(self, data: bytes) -> int:
        """Process the whole frames of ``data``; returns the bytes used."""
        end = len(data)
        offset = 0
        if self._preface:
            if end < _PREFACE_SIZE:
                if not PREFACE.startswith(data):  # not HTTP/2: no need to wait for 24 bytes
                    raise ProtocolError(PROTOCOL_ERROR, "Invalid connection preface")
                self._needed = _PREFACE_SIZE
                return 0
            if not data.startswith(PREFACE):
                raise ProtocolError(PROTOCOL_ERROR, "Invalid connection preface")
            self._preface = False
            offset = _PREFACE_SIZE
        handlers = _FRAME_HANDLERS
        while not self._closed:
            if end - offset < FRAME_HEADER:
                self._needed = FRAME_HEADER
                break
            length, frame_type, flags, stream_id = parse_header(data, offset)
            if length > self.max_inbound_frame_size:
                raise ProtocolError(FRAME_SIZE_ERROR, "Frame larger than MAX_FRAME_SIZE")
            stop = offset + FRAME_HEADER + length
            if stop > end:
                self._needed = stop - offset
                break
            payload = data[offset + FRAME_HEADER : stop]
            offset = stop
            if self._first_frame:
                if frame_type != SETTINGS or flags & FLAG_ACK:
                    raise ProtocolError(PROTOCOL_ERROR, "The first frame must be SETTINGS")
                self._first_frame = False
            if self._block is not None and (
                frame_type != CONTINUATION or stream_id != self._block.stream_id
            ):
                raise ProtocolError(PROTOCOL_ERROR, "Header block interrupted")
            if frame_type < 10:
                handlers[frame_type](self, flags, stream_id, payload)
            # Unknown frame types are ignored (RFC 9113 §5.5).
        return offset

    # -- HEADERS / CONTINUATION ---------------------------------------------------------------
    def _receive_headers_frame(self, flags: int, stream_id: int, payload: bytes) -> None:
        if not stream_id:
            raise ProtocolError(PROTOCOL_ERROR, "HEADERS on stream 0")
        bad_priority = False
        if flags & (FLAG_PADDED | FLAG_PRIORITY):
            payload, bad_priority = headers_payload(flags, stream_id, payload)
        end_stream = bool(flags & FLAG_END_STREAM)
        if flags & FLAG_END_HEADERS:
            self._header_block(stream_id, end_stream, payload, bad_priority)
            return
        self._block = HeaderBlock(
            stream_id, end_stream, bad_priority, payload, self.decoder.max_header_list_size
        )

    def _receive_continuation(self, flags: int, stream_id: int, payload: bytes) -> None:
        block = self._block
        if block is None:
            raise ProtocolError(PROTOCOL_ERROR, "CONTINUATION without a header block")
        block.add(payload)
        if flags & FLAG_END_HEADERS:
            self._block = None
            self._header_block(stream_id, block.end_stream, block.join(), block.bad_priority)

    def _header_block(
        self, stream_id: int, end_stream: bool, block: bytes, bad_priority: bool
    ) -> None:
        """A complete header block: a new request, trailers, or a late block to drop."""
        stream = self.streams.get(stream_id)
        if stream is not None:
            try:
                fields = self._decode(block)
            except HeaderListTooLarge:
                self._stream_error(stream_id, ENHANCE_YOUR_CALM)  # oversized trailers
                return
            if bad_priority:
                self._stream_error(stream_id, PROTOCOL_ERROR)
            else:
                self._trailers(stream_id, stream, fields, end_stream)
            return
        if stream_id <= self.highest_inbound_stream_id:
            # The HPACK table must stay in step with the client's; an oversized list was
            # decoded all the same.
            with contextlib.suppress(HeaderListTooLarge):
                self._decode(block)
            self._late_frame(stream_id, is_data=False)
            return
        if not stream_id & 1:
            raise ProtocolError(PROTOCOL_ERROR, "Client opened an even-numbered stream")
        try:
            fields = self._decode(block)
        except HeaderListTooLarge:
            self.highest_inbound_stream_id = stream_id
            self._answer_without_app(stream_id, _HEADERS_TOO_LARGE, end_stream)
            return
        self.highest_inbound_stream_id = stream_id
        if len(self.streams) >= self.max_concurrent_streams:
            # A stream error (RFC 9113 §5.1.2): the client may retry it later; the
            # connection and its other streams carry on.
            self._stream_error(stream_id, REFUSED_STREAM)
            return
        if bad_priority:
            self._stream_error(stream_id, PROTOCOL_ERROR)
            return
        try:
            head = parse_request_head(fields)
        except MalformedHeaders:
            self._stream_error(stream_id, PROTOCOL_ERROR)
            return
        expected = head.content_length
        if end_stream and expected:
            self._stream_error(stream_id, PROTOCOL_ERROR)  # announced a body it did not send
            return
        self.streams[stream_id] = StreamState(
            self._local_window, self._remote_window, expected, not end_stream
        )
        self.handler.on_request(stream_id, head, end_stream)

    def _trailers(
        self, stream_id: int, stream: StreamState, fields: list[tuple[bytes, bytes]], end: bool
    ) -> None:
        if not stream.remote_open:
            self._stream_error(stream_id, STREAM_CLOSED)
            return
        try:
            if not end:
                raise MalformedHeaders("Trailers without END_STREAM")
            trailers = request_trailers(fields)
        except MalformedHeaders:
            self._stream_error(stream_id, PROTOCOL_ERROR)
            return
        if stream.expected is not None and stream.expected != stream.received:
            self._stream_error(stream_id, PROTOCOL_ERROR)
            return
        self.handler.on_trailers(stream_id, trailers)
        self._remote_ended(stream_id, stream)

    def _decode(self, block: bytes) -> list[tuple[bytes, bytes]]:
        """The block's fields. ``HeaderListTooLarge`` passes: the block was decoded all the
        same (the dynamic table is in step), so it costs one stream, not the connection."""
        try:
            return self.decoder.decode(block)
        except HeaderListTooLarge:
            raise
        except HPACKError as exc:
            raise ProtocolError(COMPRESSION_ERROR, f"HPACK: {exc}") from None

    def _answer_without_app(
        self, stream_id: int, head: list[tuple[bytes, bytes]], remote_ended: bool
    ) -> None:
        """A whole response to a request the app never sees, on a stream never opened.

        If the client is still sending, RST_STREAM(NO_ERROR) asks it to stop (RFC 9113
        §8.1); what it sent meanwhile is dropped like any frame after our reset.
        """
        block = self.encoder.encode(head)
        self._out += headers_frames(stream_id, block, True, self.max_outbound_frame_size)
        if remote_ended:
            self._closed_streams.add(stream_id, ENDED)
        else:
            self._out.append(rst_stream_frame(stream_id, NO_ERROR))
            self._closed_streams.add(stream_id, RESET_SENT)

    # -- DATA ------------------------------------------------------------------------------
    def _receive_data_frame(self, flags: int, stream_id: int, payload: bytes) -> None:
        if not stream_id:
            raise ProtocolError(PROTOCOL_ERROR, "DATA on stream 0")
        flow_length = len(payload)
        if not flow_length:
            self._count_empty_data(flags)
        else:
            self._empty_data_run = 0
        if flags & FLAG_PADDED:
            payload = unpadded(payload)
        self._recv_window -= flow_length
        if self._recv_window < 0:
            raise ProtocolError(FLOW_CONTROL_ERROR, "DATA beyond the connection window")
        stream = self.streams.get(stream_id)
        if stream is None or not stream.remote_open:
            self._data_not_expected(stream_id, stream, flow_length)
            return
        stream.recv_window -= flow_length
        if stream.recv_window < 0:
            raise ProtocolError(FLOW_CONTROL_ERROR, "DATA beyond the stream window")
        end_stream = flags & FLAG_END_STREAM
        expected = stream.expected
        if expected is not None:
            received = stream.received = stream.received + len(payload)
            if received > expected or (end_stream and received != expected):
                self.handler.on_discarded(flow_length)
                self._stream_error(stream_id, PROTOCOL_ERROR)  # body length != content-length
                return
        self.handler.on_data(stream_id, payload, flow_length)
        if end_stream:
            self._remote_ended(stream_id, stream)

    def _count_empty_data(self, flags: int) -> None:
        if not flags & FLAG_END_STREAM:
            self._empty_data_run += 1
            if self._empty_data_run > MAX_EMPTY_DATA_RUN:
                raise ProtocolError(ENHANCE_YOUR_CALM, "Too many empty DATA frames")

    def _data_not_expected(
        self, stream_id: int, stream: StreamState | None, flow_length: int
    ) -> None:
        if stream is None and self._is_idle(stream_id):
            raise ProtocolError(PROTOCOL_ERROR, "DATA on an idle stream")
        self.handler.on_discarded(flow_length)
        if stream is not None:  # half-closed (remote): the client already ended it
            self._stream_error(stream_id, STREAM_CLOSED)
        else:
            self._late_frame(stream_id, is_data=True)

    # -- stream closing ----------------------------------------------------------------------
    def _remote_ended(self, stream_id: int, stream: StreamState) -> None:
        """The client's END_STREAM, after its last DATA or trailers were reported."""
        if self.streams.get(stream_id) is not stream:
            return  # the handler reset the stream meanwhile
        stream.remote_open = False
        self.handler.on_stream_ended(stream_id)
        if not stream.local_open and self.streams.get(stream_id) is stream:
            del self.streams[stream_id]
            self._closed_streams.add(stream_id, ENDED)

    def _local_ended(self, stream_id: int, stream: StreamState) -> None:
        stream.local_open = False
        if not stream.remote_open:
            del self.streams[stream_id]
            self._closed_streams.add(stream_id, ENDED)

    def _stream_error(self, stream_id: int, error_code: int) -> None:
        """RST_STREAM for a stream the client misused; the handler hears of it."""
        self.streams.pop(stream_id, None)
        self._out.append(rst_stream_frame(stream_id, error_code))
        self._closed_streams.add(stream_id, RESET_SENT)
        self.handler.on_reset(stream_id, error_code, False)

    def _late_frame(self, stream_id: int, is_data: bool) -> None:
        """DATA or HEADERS on a closed stream, treated by how it closed (RFC 9113 §5.1)."""
        how = self._closed_streams.how(stream_id)
        if how == RESET_SENT:
            return  # sent before the client saw our RST_STREAM
        if how == ENDED:
            raise ProtocolError(STREAM_CLOSED, "Frame on a closed stream")
        if how is None and not is_data:
            raise ProtocolError(PROTOCOL_ERROR, "HEADERS reusing a stream id")
        self._stream_error(stream_id, STREAM_CLOSED)

    # -- control frames ----------------------------------------------------------------------
    def _receive_rst_stream(self, flags: int, stream_id: int, payload: bytes) -> None:
        if not stream_id:
            raise ProtocolError(PROTOCOL_ERROR, "RST_STREAM on stream 0")
        if len(payload) != 4:
            raise ProtocolError(FRAME_SIZE_ERROR, "RST_STREAM length")
        if self.streams.pop(stream_id, None) is None:
            if self._is_idle(stream_id):
                raise ProtocolError(PROTOCOL_ERROR, "RST_STREAM on an idle stream")
            return  # already closed: nothing to do
        self._closed_streams.add(stream_id, RESET_RECEIVED)
        self.handler.on_reset(stream_id, int.from_bytes(payload, "big"), True)

    def _receive_window_update(self, flags: int, stream_id: int, payload: bytes) -> None:
        if len(payload) != 4:
            raise ProtocolError(FRAME_SIZE_ERROR, "WINDOW_UPDATE length")
        increment = int.from_bytes(payload, "big") & STREAM_ID_MASK
        if not stream_id:
            if not increment:
                raise ProtocolError(PROTOCOL_ERROR, "WINDOW_UPDATE of 0")
            self._send_window += increment
            if self._send_window > MAX_WINDOW:
                raise ProtocolError(FLOW_CONTROL_ERROR, "Connection window overflow")
            self.handler.on_window_update(0)
            return
        stream = self.streams.get(stream_id)
        if stream is None:
            if self._is_idle(stream_id):
                raise ProtocolError(PROTOCOL_ERROR, "WINDOW_UPDATE on an idle stream")
            return  # closed: a late update
        if not increment:
            self._stream_error(stream_id, PROTOCOL_ERROR)
            return
        stream.send_window += increment
        if stream.send_window > MAX_WINDOW:
            self._stream_error(stream_id, FLOW_CONTROL_ERROR)
            return
        self.handler.on_window_update(stream_id)

    def _receive_settings(self, flags: int, stream_id: int, payload: bytes) -> None:
        if stream_id:
            raise ProtocolError(PROTOCOL_ERROR, "SETTINGS on a stream")
        if flags & FLAG_ACK:
            if payload:
                raise ProtocolError(FRAME_SIZE_ERROR, "SETTINGS ACK with a payload")
            if self._unacked:
                self._apply_local(self._unacked.popleft())
            return
        if len(payload) % 6:
            raise ProtocolError(FRAME_SIZE_ERROR, "SETTINGS length")
        changed: dict[int, int] = {}
        for code, value in parse_settings(payload):
            self._apply_remote(code, value)
            changed[code] = value
        self._out.append(SETTINGS_ACK)
        self.handler.on_settings(changed)

    def _apply_remote(self, code: int, value: int) -> None:
        """One of the client's settings (unknown ones are ignored, RFC 9113 §6.5.2)."""
        if code == SETTING_INITIAL_WINDOW_SIZE:
            if value > MAX_WINDOW:
                raise ProtocolError(FLOW_CONTROL_ERROR, "INITIAL_WINDOW_SIZE too large")
            delta = value - self._remote_window
            self._remote_window = value
            for stream in self.streams.values():  # RFC 9113 §6.9.2: open windows shift too
                stream.send_window += delta
                if stream.send_window > MAX_WINDOW:
                    raise ProtocolError(FLOW_CONTROL_ERROR, "Stream window overflow")
        elif code == SETTING_MAX_FRAME_SIZE:
            if not MIN_FRAME_SIZE <= value <= MAX_FRAME_SIZE:
                raise ProtocolError(PROTOCOL_ERROR, "MAX_FRAME_SIZE out of range")
            self.max_outbound_frame_size = value
        elif code == SETTING_HEADER_TABLE_SIZE:
            self.encoder.header_table_size = value
        elif code in (SETTING_ENABLE_PUSH, SETTING_ENABLE_CONNECT_PROTOCOL) and value > 1:
            raise ProtocolError(PROTOCOL_ERROR, f"Setting {code} must be 0 or 1")

    def _apply_local(self, settings: dict[int, int]) -> None:
        """Our settings, once in force (the first ones at once, later ones on ACK)."""
        for code, value in settings.items():
            if code == SETTING_INITIAL_WINDOW_SIZE:
                delta = value - self._local_window
                self._local_window = value
                for stream in self.streams.values():
                    stream.recv_window += delta
            elif code == SETTING_MAX_FRAME_SIZE:
                self.max_inbound_frame_size = value
            elif code == SETTING_MAX_HEADER_LIST_SIZE:
                self.decoder.max_header_list_size = value
            elif code == SETTING_MAX_CONCURRENT_STREAMS:
                self.max_concurrent_streams = value

    def _receive_ping(self, flags: int, stream_id: int, payload: bytes) -> None:
        if stream_id:
            raise ProtocolError(PROTOCOL_ERROR, "PING on a stream")
        if len(payload) != 8:
            raise ProtocolError(FRAME_SIZE_ERROR, "PING length")
        if flags & FLAG_ACK:
            self.handler.on_ping_ack(payload)
            return
        self._out.append(ping_frame(payload, ack=True))
        self.handler.on_ping(payload)

    def _receive_goaway(self, flags: int, stream_id: int, payload: bytes) -> None:
        if stream_id:
            raise ProtocolError(PROTOCOL_ERROR, "GOAWAY on a stream")
        if len(payload) < 8:
            raise ProtocolError(FRAME_SIZE_ERROR, "GOAWAY length")
        last_stream_id = int.from_bytes(payload[:4], "big") & STREAM_ID_MASK
        error_code = int.from_bytes(payload[4:8], "big")
        # RFC 9113 §6.8: a graceful GOAWAY stops new streams "while still finishing processing
        # of previously established streams" (Go's ClientConn.Shutdown sends one, then waits).
        if error_code != NO_ERROR:
            self._closed = True
        self.handler.on_terminated(error_code, last_stream_id)

    def _receive_priority(self, flags: int, stream_id: int, payload: bytes) -> None:
        if not stream_id:
            raise ProtocolError(PROTOCOL_ERROR, "PRIORITY on stream 0")
        if len(payload) != 5:
            raise ProtocolError(FRAME_SIZE_ERROR, "PRIORITY length")
        if int.from_bytes(payload[:4], "big") & STREAM_ID_MASK == stream_id:
            # A stream cannot depend on itself (§5.3.1). The stream error needs RST_STREAM,
            # which must not be sent on an idle or closed stream (§6.4, §5.1): escalated.
            if stream_id not in self.streams:
                raise ProtocolError(PROTOCOL_ERROR, "PRIORITY: a stream depending on itself")
            self._stream_error(stream_id, PROTOCOL_ERROR)

    def _receive_push_promise(self, flags: int, stream_id: int, payload: bytes) -> None:
        raise ProtocolError(PROTOCOL_ERROR, "PUSH_PROMISE from a client")

    def _is_idle(self, stream_id: int) -> bool:
        """Never opened: above every stream the client opened, or even-numbered."""
        return stream_id > self.highest_inbound_stream_id or not stream_id & 1


#: Frame handlers by frame type (RFC 9113 §6); other types are ignored.
_FRAME_HANDLERS: tuple[Callable[[ServerConnection, int, int, bytes], None], ...] = (
    ServerConnection._receive_data_frame,
    ServerConnection._receive_headers_frame,
    ServerConnection._receive_priority,
    ServerConnection._receive_rst_stream,
    ServerConnection._receive_settings,
    ServerConnection._receive_push_promise,
    ServerConnection._receive_ping,
    ServerConnection._receive_goaway,
    ServerConnection._receive_window_update,
    ServerConnection._receive_continuation,
)
