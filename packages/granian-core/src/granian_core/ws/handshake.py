"""The opening handshake, transport-neutral: request checks, subprotocols, extensions.

HTTP/1.1 (RFC 6455 §4.2.1): ``GET``, HTTP/1.1, ``Connection: upgrade`` +
``Upgrade: websocket`` (the parser has already matched both), one
``Sec-WebSocket-Key`` that is 16 bytes in base64, ``Sec-WebSocket-Version: 13``.
HTTP/2 (RFC 8441): the H2 layer checks ``:method CONNECT`` + ``:protocol
websocket``; the version rule is the same and there is no key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass, field

from granian_core.exchange import Headers

__all__ = [
    "WEBSOCKET_VERSION",
    "Handshake",
    "HandshakeError",
    "accept_token",
    "check_h1_upgrade",
    "check_h2_connect",
    "header_tokens",
]

WEBSOCKET_VERSION = b"13"
_ACCEPT_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_KEY_BYTES = 16


class HandshakeError(Exception):
    """An invalid upgrade request: answer 400 with ``reason`` and do not call the app."""

    def __init__(self, reason: str, headers: Headers | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.headers: Headers = headers or []


@dataclass(slots=True)
class Handshake:
    """What a valid upgrade request asks for."""

    #: ``Sec-WebSocket-Key`` (HTTP/1.1 only; HTTP/2 has none).
    key: bytes | None
    subprotocols: list[str] = field(default_factory=list)
    #: The ``Sec-WebSocket-Extensions`` offers, one string per offer.
    extension_offers: list[str] = field(default_factory=list)


def check_h1_upgrade(method: str, http_version: str, headers: Headers) -> Handshake:
    """Validate an HTTP/1.1 upgrade request (already known to ask for ``websocket``)."""
    if method != "GET":
        raise HandshakeError("WebSocket upgrade requires the GET method")
    if http_version != "1.1":
        raise HandshakeError("WebSocket upgrade requires HTTP/1.1")
    keys = [value for name, value in headers if name == b"sec-websocket-key"]
    if len(keys) != 1 or not _is_valid_key(keys[0].strip()):
        raise HandshakeError("Missing or invalid Sec-WebSocket-Key header")
    _check_version(headers)
    return _handshake(keys[0].strip(), headers)


def check_h2_connect(headers: Headers) -> Handshake:
    """Validate the headers of an RFC 8441 extended CONNECT (``:protocol`` checked by H2)."""
    _check_version(headers)
    return _handshake(None, headers)


def accept_token(key: bytes) -> bytes:
    """``Sec-WebSocket-Accept`` for ``key``."""
    return base64.b64encode(hashlib.sha1(key + _ACCEPT_GUID).digest())


def header_tokens(headers: Headers, name: bytes) -> list[str]:
    """Every comma-separated, trimmed, non-empty item of the ``name`` headers, in order."""
    items: list[str] = []
    for header, value in headers:
        if header == name:
            items.extend(
                item.strip() for item in value.decode("latin-1").split(",") if item.strip()
            )
    return items


def _handshake(key: bytes | None, headers: Headers) -> Handshake:
    return Handshake(
        key=key,
        subprotocols=header_tokens(headers, b"sec-websocket-protocol"),
        extension_offers=header_tokens(headers, b"sec-websocket-extensions"),
    )


def _check_version(headers: Headers) -> None:
    versions = [value.strip() for name, value in headers if name == b"sec-websocket-version"]
    if versions != [WEBSOCKET_VERSION]:
        # RFC 6455 §4.4: tell the client which version we speak.
        raise HandshakeError(
            "Unsupported or missing Sec-WebSocket-Version (13 expected)",
            [(b"sec-websocket-version", WEBSOCKET_VERSION)],
        )


def _is_valid_key(key: bytes) -> bool:
    try:
        return len(base64.b64decode(key, validate=True)) == _KEY_BYTES
    except (binascii.Error, ValueError):
        return False
