"""Events a request parser produces, in wire order.

One request is ``RequestHead``, zero or more ``BodyData``, then ``END_OF_BODY``.
A ``ParseError`` ends the stream: the parser accepts no more input after it.
The classes are slotted and tiny because the httptools path builds one head per
request and one ``BodyData`` per body chunk.
"""

from __future__ import annotations

from typing import Final

__all__ = ["END_OF_BODY", "BodyData", "EndOfBody", "Event", "ParseError", "RequestHead"]


class RequestHead:
    """The request line and headers of one request.

    ``headers`` names are lower-case. ``keep_alive`` is what the request itself
    asks for (version and ``Connection`` header); the connection combines it
    with the server's settings. ``upgrade`` is the lower-cased ``Upgrade``
    header of an upgrade request (``Connection: upgrade``), else ``None``.
    ``size`` approximates the head's bytes on the wire (flow-control accounting).
    """

    __slots__ = (
        "expect_continue",
        "headers",
        "http_version",
        "keep_alive",
        "method",
        "size",
        "target",
        "upgrade",
    )

    def __init__(  # noqa: PLR0917 - positional on purpose: built once per request
        self,
        method: str,
        target: bytes,
        http_version: str,
        headers: list[tuple[bytes, bytes]],
        keep_alive: bool,
        expect_continue: bool = False,
        upgrade: bytes | None = None,
        size: int = 0,
    ) -> None:
        self.method = method
        self.target = target
        self.http_version = http_version
        self.headers = headers
        self.keep_alive = keep_alive
        self.expect_continue = expect_continue
        self.upgrade = upgrade
        self.size = size

    def __repr__(self) -> str:
        return f"RequestHead({self.method} {self.target!r} HTTP/{self.http_version})"


class BodyData:
    """A chunk of request body, as framed on the wire (chunk framing removed)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __repr__(self) -> str:
        return f"BodyData({len(self.data)} bytes)"


class EndOfBody:
    """The request body is complete (also sent for requests without a body)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "END_OF_BODY"


#: The only instance ever queued: end of body carries no data.
END_OF_BODY: Final = EndOfBody()


class ParseError:
    """The input is not acceptable HTTP/1: answer ``status`` and close.

    400 malformed, 431 head too large, 501 unsupported transfer-coding,
    505 unsupported HTTP version.
    """

    __slots__ = ("reason", "status")

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        self.reason = reason

    def __repr__(self) -> str:
        return f"ParseError({self.status}, {self.reason!r})"


Event = RequestHead | BodyData | EndOfBody | ParseError
