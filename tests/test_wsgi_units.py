"""Units of the WSGI adapter: its per-worker memo tables (remembered by value, never
wrongly), the write window of a streamed response, reads of a streamed body, and small files
read whole by the app thread."""

from __future__ import annotations

import io
import os
import queue
import tempfile
from pathlib import Path

import pytest
from granian_core.exchange import ConnectionInfo
from granian_wsgi import FileWrapper, call, response
from granian_wsgi import environ as environ_module
from granian_wsgi.environ import EnvironBuilder
from granian_wsgi.input import WSGIInput
from granian_wsgi.response import encode_headers

TEXT = [("Content-Type", "text/plain"), ("Content-Length", "5")]
TEXT_ENCODED = [(b"content-type", b"text/plain"), (b"content-length", b"5")]


def test_equal_header_lists_encode_alike_into_fresh_lists() -> None:
    first = encode_headers(TEXT)
    first.append((b"x-mutated", b"by the caller"))
    assert encode_headers(list(TEXT)) == TEXT_ENCODED
    assert encode_headers(tuple(TEXT)) == TEXT_ENCODED


def test_any_iterable_of_pairs_is_encoded() -> None:
    for _ in range(2):
        assert encode_headers(pair for pair in TEXT) == TEXT_ENCODED
        assert encode_headers([list(pair) for pair in TEXT]) == TEXT_ENCODED


@pytest.mark.parametrize(
    "headers",
    [
        [("x-text", "snowman \u2603")],
        [("x-bytes", b"value")],
        [("x-int", 1)],
        [("x-triple", "a", "b")],
        [("x-view", memoryview(bytearray(b"v")))],
        42,
    ],
    ids=["non-latin1", "bytes", "int", "triple", "writable-view", "not-iterable"],
)
def test_invalid_headers_raise_every_time(headers: object) -> None:
    for _ in range(2):
        with pytest.raises(TypeError, match="WSGI response headers must be"):
            encode_headers(headers)


def test_one_off_header_lists_keep_the_table_bounded() -> None:
    for n in range(3 * response._ENCODED_LIMIT):
        assert encode_headers([("X-Id", str(n))]) == [(b"x-id", str(n).encode())]
        assert len(response._encoded) <= response._ENCODED_LIMIT


def _conn(port: int) -> ConnectionInfo:
    return ConnectionInfo(client=("127.0.0.1", port), server=("127.0.0.1", 8000))


def test_request_variables_in_the_process_environment_are_not_passed_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A REMOTE_USER left in the server's environment would log every request in.
    for key in ("REMOTE_USER", "AUTH_TYPE", "REQUEST_URI", "SERVER_ADDR", "HTTP_X_A"):
        monkeypatch.setenv(key, "from-the-process")
    monkeypatch.setenv("APP_SETTING", "kept")  # like Granian: the rest is passed on
    base = EnvironBuilder(None, multiprocess=False).base
    assert base["APP_SETTING"] == "kept"
    for key in ("REMOTE_USER", "AUTH_TYPE", "REQUEST_URI", "SERVER_ADDR", "HTTP_X_A"):
        assert key not in base


def test_each_connection_gets_its_own_keys() -> None:
    builder = EnvironBuilder(None, multiprocess=False)
    one, other, same_as_one = _conn(1111), _conn(2222), _conn(1111)
    for _ in range(2):
        assert builder._connection_keys(one)["REMOTE_PORT"] == "1111"
        assert builder._connection_keys(other)["REMOTE_PORT"] == "2222"
    # An equal but distinct connection is a connection of its own.
    assert builder._connection_keys(same_as_one) is not builder._connection_keys(one)


def test_remembered_connections_are_bounded() -> None:
    builder = EnvironBuilder(None, multiprocess=False)
    for port in range(3 * environ_module._CONN_CACHE_LIMIT):
        assert builder._connection_keys(_conn(port))["REMOTE_PORT"] == str(port)
        assert len(builder._conn_keys) <= environ_module._CONN_CACHE_LIMIT


def test_large_header_lists_are_encoded_but_not_kept() -> None:
    value = "s" * (response._REMEMBERED_SIZE + 1)
    headers = [("Set-Cookie", value)]
    assert encode_headers(headers) == [(b"set-cookie", value.encode())]
    assert tuple(headers) not in response._encoded
    assert encode_headers(headers) == [(b"set-cookie", value.encode())]


def test_a_streamed_response_write_window_has_write_window_slots() -> None:
    window = call._new_window()
    for _ in range(call.WRITE_WINDOW):
        window.get_nowait()
    with pytest.raises(queue.Empty):
        window.get_nowait()  # the app's thread would wait here for the loop
    window.put(None)  # the loop wrote a chunk: one slot back
    window.get_nowait()


class _Chunks:
    """Hands out the given chunks, then ``b""``: the contract of ``BodyFeed.take``."""

    def __init__(self, *chunks: bytes) -> None:
        self._chunks = list(chunks)

    def take(self) -> bytes:
        return self._chunks.pop(0) if self._chunks else b""


def _streamed(*chunks: bytes) -> WSGIInput:
    return WSGIInput(None, _Chunks(*chunks))  # type: ignore[arg-type]


def test_a_read_served_by_one_chunk_returns_it_without_a_copy() -> None:
    first, second = b"a" * 10, b"b" * 10
    stream = _streamed(first, second)
    assert stream.read(10) is first
    assert stream.read(4) == b"bbbb"
    assert stream.read(100) == b"bbbbbb"
    assert stream.read(1) == b""
    assert _streamed(first).read() is first
    assert _streamed(first).read(64) is first


def test_reads_across_chunks_are_joined_in_order() -> None:
    stream = _streamed(b"abc", b"def", b"ghi")
    assert stream.read(2) == b"ab"
    assert stream.read(5) == b"cdefg"
    assert stream.read() == b"hi"
    assert _streamed(b"abc", b"def").read() == b"abcdef"
    assert _streamed().read() == b""


# -- wsgi.file_wrapper: small files read on the app's thread --------------------------------
def test_a_small_file_is_read_from_its_position_without_moving_it(tmp_path: Path) -> None:
    path = tmp_path / "small.bin"
    path.write_bytes(bytes(range(256)) * 40)
    with open(path, "rb") as file:
        file.seek(100)
        wrapper = FileWrapper(file)
        assert wrapper.read_small(64 * 1024) == path.read_bytes()[100:]
        assert wrapper.read_small(64 * 1024, 10) == path.read_bytes()[100:110]
        assert file.tell() == 100


def test_a_file_without_a_name_is_read_by_its_descriptor() -> None:
    with tempfile.TemporaryFile() as file:  # its name is a number
        file.write(b"x" * 1000)
        file.seek(0)
        assert FileWrapper(file).read_small(64 * 1024) == b"x" * 1000


@pytest.mark.parametrize("length", [-1, 1001])
def test_a_length_the_file_cannot_serve_is_left_to_sendfile(tmp_path: Path, length: int) -> None:
    path = tmp_path / "small.bin"
    path.write_bytes(b"y" * 1000)
    with open(path, "rb") as file:
        assert FileWrapper(file).read_small(64 * 1024, length) is None


def test_large_files_pipes_and_file_likes_are_not_read_at_once(tmp_path: Path) -> None:
    path = tmp_path / "large.bin"
    path.write_bytes(b"z" * 1001)
    with open(path, "rb") as file:
        assert FileWrapper(file).read_small(1000) is None
    read_end, write_end = os.pipe()
    with os.fdopen(read_end, "rb") as pipe, os.fdopen(write_end, "wb"):
        assert FileWrapper(pipe).read_small(1000) is None
    assert FileWrapper(io.BytesIO(b"in memory")).read_small(1000) is None
