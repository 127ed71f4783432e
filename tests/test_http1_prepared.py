"""``prepare_head``: status and headers rendered once, remembered by value, never wrongly."""

from __future__ import annotations

import pytest
from granian_core.exchange import ResponseError
from granian_core.http1 import prepared
from granian_core.http1.prepared import prepare_head

TEXT = (b"content-type", b"text/plain")


def test_an_equal_head_is_rendered_once() -> None:
    first = prepare_head(200, [TEXT, (b"x-id", b"prepared-1")])
    again = prepare_head(200, [(b"content-type", b"text/plain"), (b"x-id", b"prepared-1")])
    assert again is first
    assert first.block == b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nx-id: prepared-1\r\n"


def test_the_status_is_part_of_what_is_remembered() -> None:
    headers = [TEXT, (b"content-length", b"3")]
    ok = prepare_head(200, headers)
    no_content = prepare_head(204, headers)
    assert ok.block.startswith(b"HTTP/1.1 200 OK\r\n")
    assert ok.app_length == 3
    assert no_content.block == b"HTTP/1.1 204 No Content\r\ncontent-type: text/plain\r\n"
    assert no_content.app_length is None
    assert prepare_head(200, headers) is ok


@pytest.mark.parametrize("status", [200.0, True, "200"])
def test_a_status_equal_to_a_remembered_one_is_still_checked(status: object) -> None:
    prepare_head(200, [TEXT])
    with pytest.raises(ResponseError):
        prepare_head(status, [TEXT])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "headers",
    [
        [(b"x-evil", b"a\r\nset-cookie: x=1")],
        [(b"bad name", b"v")],
        [(b"x-str", "text")],
        [(b"content-length", b"-1")],
    ],
)
def test_invalid_heads_raise_every_time(headers: list[tuple[bytes, bytes]]) -> None:
    for _ in range(2):
        with pytest.raises(ResponseError):
            prepare_head(200, headers)


@pytest.mark.parametrize(
    "value",
    [bytearray(b"v1"), memoryview(bytearray(b"v1"))],
    ids=["bytearray", "writable-memoryview"],
)
def test_unhashable_values_are_rendered_each_time(value: object) -> None:
    headers = [(b"x-buf", value)]
    first = prepare_head(200, headers)  # type: ignore[list-item]
    assert first.block == b"HTTP/1.1 200 OK\r\nx-buf: v1\r\n"
    # A mutable value may change between responses: what is sent follows it.
    value[1:2] = b"2"  # type: ignore[index]
    assert prepare_head(200, headers).block == b"HTTP/1.1 200 OK\r\nx-buf: v2\r\n"  # type: ignore[arg-type]


def test_list_pairs_are_rendered_each_time() -> None:
    headers = [[b"x-list", b"1"]]
    assert prepare_head(200, headers).block == b"HTTP/1.1 200 OK\r\nx-list: 1\r\n"  # type: ignore[arg-type]
    assert prepare_head(200, headers) is not prepare_head(200, headers)  # type: ignore[arg-type]


def test_one_off_heads_keep_the_table_bounded() -> None:
    limit = prepared._PREPARED_LIMIT
    for n in range(3 * limit):
        head = prepare_head(200, [(b"x-request-id", b"%d" % n)])
        assert head.block == b"HTTP/1.1 200 OK\r\nx-request-id: %d\r\n" % n
        assert len(prepared._PREPARED) <= limit


def test_large_heads_are_rendered_but_not_kept() -> None:
    value = b"s" * (prepared._REMEMBERED_SIZE + 1)
    head = prepare_head(200, [(b"set-cookie", value)])
    assert head.block == b"HTTP/1.1 200 OK\r\nset-cookie: " + value + b"\r\n"
    assert prepare_head(200, [(b"set-cookie", value)]) is not head
    assert (200, (b"set-cookie", value)) not in prepared._PREPARED
