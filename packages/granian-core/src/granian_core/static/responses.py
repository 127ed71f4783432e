"""The responses of static routes: a file with its headers, a 304, or a 404.

Headers of a file: ``content-type`` guessed from the extension (the type only, no
charset, like Granian), ``cache-control: max-age=<expires>`` unless expires is 0,
and the validators ``etag`` and ``last-modified``. ``content-length`` comes from
``send_file``, ``server`` and ``date`` from the core. A GET or HEAD whose
``If-None-Match`` (or, without it, ``If-Modified-Since``) matches gets a 304.
"""

from __future__ import annotations

import mimetypes
import os
from email.utils import formatdate, mktime_tz, parsedate_tz
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from granian_core.exchange import Headers, HTTPExchange

__all__ = ["FileResponder", "not_modified", "send_not_found"]

NOT_FOUND_HEADERS = ((b"content-type", b"text/plain; charset=utf-8"),)
NOT_FOUND_BODY = b"Not found"
#: Conditional requests apply to these methods only (RFC 9110 §13.2.2: 304 is for GET/HEAD).
CONDITIONAL_METHODS = frozenset({"GET", "HEAD"})
#: Files sent as stored (no ``content-encoding``) are typed as the compressed format.
ENCODING_TYPES = {
    "gzip": "application/gzip",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
    "br": "application/x-brotli",
    "compress": "application/x-compress",
}
#: Extensions come from request paths: the cache of guessed types is bounded.
CONTENT_TYPE_CACHE_SIZE = 512

HeaderPairs = tuple[tuple[bytes, bytes], ...]


class FileResponder:
    """Sends files with the headers of one worker's settings."""

    __slots__ = ("_cache_control", "_content_types")

    def __init__(self, expires: int) -> None:
        self._cache_control: HeaderPairs = (
            ((b"cache-control", b"max-age=%d" % expires),) if expires else ()
        )
        self._content_types: dict[str, HeaderPairs] = {}

    async def send(self, exchange: HTTPExchange, path: str, info: os.stat_result) -> None:
        """The file at ``path`` (``info`` is its stat), or a 304 when the client has it."""
        validators = (
            (b"etag", b'"%x-%x"' % (info.st_mtime_ns, info.st_size)),
            (b"last-modified", formatdate(info.st_mtime, usegmt=True).encode()),
        )
        if exchange.method in CONDITIONAL_METHODS and not_modified(
            exchange.headers, validators[0][1], info.st_mtime
        ):
            exchange.send_response(304, [*self._cache_control, *validators])
            return
        headers = [*self.content_type(path), *self._cache_control, *validators]
        try:
            await exchange.send_file(200, headers, path)
        except OSError:
            # Gone or unreadable since it was found: nothing was sent yet, so a 404 still fits.
            if exchange.response_started:
                raise
            send_not_found(exchange)

    def content_type(self, path: str) -> HeaderPairs:
        """The ``content-type`` header for ``path``'s extension (none when unknown)."""
        extension = os.path.splitext(path)[1].lower()
        cached = self._content_types.get(extension)
        if cached is not None:
            return cached
        header = _guess_content_type(extension)
        if len(self._content_types) < CONTENT_TYPE_CACHE_SIZE:
            self._content_types[extension] = header
        return header


def _guess_content_type(extension: str) -> HeaderPairs:
    mime, encoding = mimetypes.guess_type("file" + extension)
    if encoding is not None:
        mime = ENCODING_TYPES.get(encoding)
    return ((b"content-type", mime.encode()),) if mime else ()


def send_not_found(exchange: HTTPExchange) -> None:
    exchange.send_response(404, list(NOT_FOUND_HEADERS), NOT_FOUND_BODY)


def not_modified(headers: Headers, etag: bytes, mtime: float) -> bool:
    """Whether the request's validators say the client's copy is current.

    ``If-None-Match`` (weak comparison, ``*`` matches) takes precedence; only
    without it is ``If-Modified-Since`` used, and an invalid date is ignored.
    """
    if_none_match: list[bytes] = []
    if_modified_since = None
    for name, value in headers:
        if name == b"if-none-match":
            if_none_match.append(value)
        elif name == b"if-modified-since":
            if_modified_since = value
    if if_none_match:
        return _etag_listed(b",".join(if_none_match), etag)
    if if_modified_since is not None:
        return _unmodified_since(if_modified_since, mtime)
    return False


def _etag_listed(value: bytes, etag: bytes) -> bool:
    for item in value.split(b","):
        tag = item.strip()
        if tag == b"*" or tag.removeprefix(b"W/") == etag:
            return True
    return False


def _unmodified_since(value: bytes, mtime: float) -> bool:
    try:
        parsed = parsedate_tz(value.decode("latin-1"))
        if parsed is None:
            return False
        # HTTP dates have whole seconds: a file modified within the second is unmodified.
        return int(mtime) <= mktime_tz(parsed)
    except (ValueError, TypeError, IndexError, OverflowError):
        return False
