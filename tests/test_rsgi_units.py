"""The RSGI adapter's pure parts: Headers view, address formatting, header encoding, names."""

from __future__ import annotations

import granian_rsgi
import pytest
from granian_rsgi import Headers, ProtocolClosed, ProtocolError, WebsocketMessageType
from granian_rsgi.names import encode_headers
from granian_rsgi.scope import format_address

RAW = [
    (b"host", b"example.com"),
    (b"x-multi", b"one"),
    (b"accept", b"*/*"),
    (b"x-multi", b"two"),
    (b"x-latin1", b"caf\xe9"),
]


def test_headers_api() -> None:
    headers = Headers(RAW)
    assert headers.keys() == ["host", "x-multi", "accept", "x-latin1"]
    assert headers.values() == ["example.com", "one", "*/*", "two", "café"]
    assert headers.items()[1] == ("x-multi", "one")
    assert headers.items()[3] == ("x-multi", "two")
    assert list(headers) == headers.keys()
    assert len(headers) == 4
    assert headers["X-Multi"] == "one"
    assert headers.get("x-multi") == "one"
    assert headers.get_all("x-MULTI") == ["one", "two"]
    assert headers.get_all("nope") == []
    assert headers.get("nope") is None
    assert headers.get("nope", "d") == "d"
    assert "HOST" in headers
    assert "nope" not in headers
    assert 1 not in headers
    assert dict(headers.items())["x-multi"] == "two"
    assert headers["x-latin1"] == "café"


def test_headers_missing_key_and_odd_names() -> None:
    headers = Headers(RAW)
    with pytest.raises(KeyError) as info:
        headers["x-missing"]
    assert info.value.args == ("x-missing",)
    # Names that are not tokens can never be present.
    assert headers.get("bad name") is None
    assert "h\u20acst" not in headers


def test_headers_wraps_without_copying() -> None:
    raw = [(b"a", b"1")]
    headers = Headers(raw)
    raw.append((b"b", b"2"))
    assert headers.keys() == ["a", "b"]


@pytest.mark.parametrize(
    ("address", "text"),
    [
        (("127.0.0.1", 8000), "127.0.0.1:8000"),
        (("::1", 443), "[::1]:443"),
        (("fe80::1", 80, 0, 0), "[fe80::1]:80"),
        (None, ""),
    ],
)
def test_format_address(address: tuple[str, int] | None, text: str) -> None:
    assert format_address(address) == text


def test_encode_headers_drops_invalid_pairs() -> None:
    encoded = encode_headers(
        [
            ("Content-Type", "text/plain"),
            ("bad name", "x"),
            ("x-crlf", "a\r\nb"),
            ("x-lf", "a\nb"),
            ("x-nul", "a\x00b"),
            ("x-del", "a\x7fb"),
            ("x-accented", "caf\xe9 \xa0"),
            ("x-euro", "\u20ac"),
            ("x-surrogate", "\udc80"),
            ("x-\u20ac", "v"),
            ("", "v"),
            ("x-tab", "a\tb"),
            ("x-empty", ""),
        ]
    )
    assert encoded == [
        (b"content-type", b"text/plain"),
        (b"x-accented", "caf\xe9 \xa0".encode()),
        (b"x-euro", "\u20ac".encode()),
        (b"x-tab", b"a\tb"),
        (b"x-empty", b""),
    ]


def test_encode_headers_rejects_non_str() -> None:
    with pytest.raises(TypeError):
        encode_headers([(b"x-bytes", "v")])  # type: ignore[list-item]


def test_exceptions_and_message_kinds() -> None:
    assert issubclass(ProtocolError, RuntimeError)
    assert issubclass(ProtocolClosed, RuntimeError)
    assert str(ProtocolError()) == "RSGI protocol error"
    assert str(ProtocolClosed()) == "RSGI transport is closed"
    assert granian_rsgi.RSGIProtocolError is ProtocolError
    assert granian_rsgi.RSGIProtocolClosed is ProtocolClosed
    assert [int(kind) for kind in WebsocketMessageType] == [0, 1, 2]
    close_kind: int = 0  # apps compare message.kind (an int) with the enum
    assert WebsocketMessageType.close == close_kind
    assert [kind.name for kind in WebsocketMessageType] == ["close", "bytes", "string"]


def test_websocket_message() -> None:
    message = granian_rsgi.WebsocketMessage(WebsocketMessageType.string, "hi")
    assert (message.kind, message.data) == (2, "hi")
    assert granian_rsgi.WebsocketMessage(0).data is None


def test_interface_entry_point() -> None:
    from granian_core.interface import load_interface

    assert load_interface("rsgi") is granian_rsgi.RSGIInterface
