"""The responses of static routes: a file with its headers, a 304, or a 404.

Headers of a file: ``content-type`` guessed from the extension (the type only, no
charset, like Granian), ``cache-control: max-age=<expires>`` unless expires is 0,
and the validators ``etag`` and ``last-modified``. ``content-length`` comes from
``send_file``, ``server`` and ``date`` from the core.

Preconditions (RFC 9110 §13.2.2, in its order): an ``If-Match`` no tag of which
matches, or else an ``If-Unmodified-Since`` the file is newer than, gets a 412;
then a matching ``If-None-Match`` (or, without it, an ``If-Modified-Since`` the
file is not newer than) gets a 304 on GET and HEAD, a 412 on other methods
(``If-Modified-Since`` applies to GET and HEAD only).
"""

from __future__ import annotations

import mimetypes
import os
from email.utils import formatdate, mktime_tz, parsedate_tz
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from granian_core.exchange import Headers, HTTPExchange

__all__ = ["FileResponder", "precondition", "send_not_found"]

NOT_FOUND_HEADERS = ((b"content-type", b"text/plain; charset=utf-8"),)
NOT_FOUND_BODY = b"Not found"
#: Methods that get a 304 (RFC 9110 §13.2.2); others get a 412 where these get a 304.
READ_METHODS = frozenset({"GET", "HEAD"})
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

    async def send(self, exchange: HTTPExchange, path: str, info: os.stat_result) -> bool:
        """The file at ``path`` (``info`` is its stat), or a 304 when the client has it.

        False when the file could not be opened after all, and a 404 went out instead.
        """
        validators = (
            (b"etag", b'"%x-%x"' % (info.st_mtime_ns, info.st_size)),
            (b"last-modified", formatdate(info.st_mtime, usegmt=True).encode()),
        )
        status = precondition(exchange.method, exchange.headers, validators[0][1], info.st_mtime)
        if status == 304:
            exchange.send_response(304, [*self._cache_control, *validators])
            return True
        if status == 412:
            exchange.send_response(412, [*validators], b"")
            return True
        headers = [*self.content_type(path), *self._cache_control, *validators]
        try:
            await exchange.send_file(200, headers, path)
        except OSError:
            # Gone or unreadable since it was found: nothing was sent yet, so a 404 still fits.
            if exchange.response_started:
                raise
            send_not_found(exchange)
            return False
        return True

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


def precondition(method: str, headers: Headers, etag: bytes, mtime: float) -> int | None:
    """412 or 304 when the request's preconditions say so, else ``None`` (send the file).

    The order of RFC 9110 §13.2.2; a date that does not parse is ignored (§13.1.3, 13.1.4).
    """
    fields: dict[bytes, list[bytes]] = {}
    for name, value in headers:
        if name in _CONDITIONAL_FIELDS:
            fields.setdefault(name, []).append(value)
    if not fields:
        return None
    if_match = fields.get(b"if-match")
    if if_match is not None:
        if not _etag_listed(b",".join(if_match), etag, weak=False):
            return 412
    else:
        if_unmodified_since = fields.get(b"if-unmodified-since")
        if if_unmodified_since and _newer_than(if_unmodified_since[-1], mtime) is True:
            return 412
    if_none_match = fields.get(b"if-none-match")
    if if_none_match is not None:
        if _etag_listed(b",".join(if_none_match), etag, weak=True):
            return 304 if method in READ_METHODS else 412
        return None
    if_modified_since = fields.get(b"if-modified-since")
    if (
        if_modified_since
        and method in READ_METHODS
        and _newer_than(if_modified_since[-1], mtime) is False
    ):
        return 304
    return None


_CONDITIONAL_FIELDS = frozenset(
    {b"if-match", b"if-none-match", b"if-modified-since", b"if-unmodified-since"}
)


def _etag_listed(value: bytes, etag: bytes, weak: bool) -> bool:
    """Whether ``value`` (a list of tags, or ``*``) names ``etag``.

    ``weak``: the weak comparison of If-None-Match (``W/`` ignored); else the strong one
    of If-Match, where a weak tag never matches (RFC 9110 §8.8.3.2).
    """
    for item in value.split(b","):
        tag = item.strip()
        if tag in (b"*", etag) or (weak and tag.removeprefix(b"W/") == etag):
            return True
    return False


def _newer_than(value: bytes, mtime: float) -> bool | None:
    """Whether the file changed after the HTTP date ``value``; ``None`` if it is no date."""
    try:
        parsed = parsedate_tz(value.decode("latin-1"))
        if parsed is None:
            return None
        # HTTP dates have whole seconds: a file modified within the second is unmodified.
        return int(mtime) > mktime_tz(parsed)
    except (ValueError, TypeError, IndexError, OverflowError):
        return None
