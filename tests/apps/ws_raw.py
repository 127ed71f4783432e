"""A raw-socket WebSocket client for tests: any frame, malformed ones included."""

from __future__ import annotations

import base64
import os
import socket
import struct
from dataclasses import dataclass

OP_CONT = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA


def encode_frame(
    opcode: int,
    payload: bytes,
    *,
    fin: bool = True,
    mask: bool = True,
    rsv1: bool = False,
    length: int | None = None,
) -> bytes:
    """One frame; ``length`` overrides the announced payload length (to lie about it)."""
    first = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    size = len(payload) if length is None else length
    mask_bit = 0x80 if mask else 0
    if size < 126:
        head = struct.pack("!BB", first, mask_bit | size)
    elif size < 1 << 16:
        head = struct.pack("!BBH", first, mask_bit | 126, size)
    else:
        head = struct.pack("!BBQ", first, mask_bit | 127, size)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + apply_mask(payload, key)


def apply_mask(payload: bytes, key: bytes) -> bytes:
    size = len(payload)
    if not size:
        return b""
    stream = (key * (size // 4 + 1))[:size]
    masked = int.from_bytes(payload, "big") ^ int.from_bytes(stream, "big")
    return masked.to_bytes(size, "big")


def close_payload(code: int, reason: str = "") -> bytes:
    return struct.pack("!H", code) + reason.encode()


@dataclass
class Frame:
    fin: bool
    rsv1: bool
    opcode: int
    payload: bytes

    @property
    def close_code(self) -> int | None:
        if self.opcode != OP_CLOSE or len(self.payload) < 2:
            return None
        return int(struct.unpack("!H", self.payload[:2])[0])


class RawWebSocket:
    """A blocking client speaking bytes; the server's frames are read back parsed."""

    def __init__(self, port: int, timeout: float = 10.0, rcvbuf: int | None = None) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        self.buffer = b""

    def __enter__(self) -> RawWebSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()

    @staticmethod
    def upgrade_request(path: str = "/echo", extra: bytes = b"", key: bytes | None = None) -> bytes:
        key = key if key is not None else base64.b64encode(os.urandom(16))
        return (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode()
            + b"Connection: Upgrade\r\nUpgrade: websocket\r\n"
            + b"Sec-WebSocket-Key: "
            + key
            + b"\r\nSec-WebSocket-Version: 13\r\n"
            + extra
            + b"\r\n"
        )

    def handshake(
        self, path: str = "/echo", extra: bytes = b"", early: bytes = b""
    ) -> tuple[int, dict[str, str], bytes]:
        """Send an upgrade request (and ``early`` bytes with it); read the response head."""
        self.sock.sendall(self.upgrade_request(path, extra) + early)
        return self.read_head()

    def read_head(self) -> tuple[int, dict[str, str], bytes]:
        """Status, headers (lower-case names) and the body of a non-101 response."""
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers: dict[str, str] = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        status = int(status_line.split()[1])
        body = b""
        if status != 101:
            length = int(headers.get("content-length", "0"))
            while len(self.buffer) < length:
                self._fill()
            body, self.buffer = self.buffer[:length], self.buffer[length:]
        return status, headers, body

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_frame(self, opcode: int, payload: bytes = b"", **options: object) -> None:
        self.sock.sendall(encode_frame(opcode, payload, **options))  # type: ignore[arg-type]

    def read_frame(self) -> Frame:
        first, second = self._take(2)
        size = second & 0x7F
        if size == 126:
            size = struct.unpack("!H", self._take(2))[0]
        elif size == 127:
            size = struct.unpack("!Q", self._take(8))[0]
        assert not second & 0x80, "server frames must not be masked"
        payload = self._take(size)
        return Frame(bool(first & 0x80), bool(first & 0x40), first & 0x0F, payload)

    def read_until_close(self) -> Frame:
        """Skip data/ping frames until the server's close frame."""
        for _ in range(100_000):
            frame = self.read_frame()
            if frame.opcode == OP_CLOSE:
                return frame
        raise AssertionError("no close frame")

    def at_eof(self) -> bool:
        """True when the server closed the connection (after any buffered bytes)."""
        if self.buffer:
            return False
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def _take(self, count: int) -> bytes:
        while len(self.buffer) < count:
            self._fill()
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def _fill(self) -> None:
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self.buffer += chunk
