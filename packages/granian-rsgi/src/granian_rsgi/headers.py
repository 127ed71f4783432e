"""``scope.headers``: a read-only, mapping-like view of the request headers.

It wraps the exchange's ``(name, value)`` byte pairs without copying them and
decodes on access. Values are decoded as latin-1, so every byte survives
(Granian skips values that are not visible ASCII; we keep them instead).
Name lookups are case-insensitive.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar, overload

from .names import encode_name, name_cache

__all__ = ["Headers"]

_T = TypeVar("_T")


class Headers:
    """Request headers: names lower-case ``str``, values ``str``, repeats kept in order."""

    __slots__ = ("_raw",)

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        self._raw = raw

    def keys(self) -> list[str]:
        """The distinct header names, in the order they were first received."""
        return list(dict.fromkeys(name.decode("latin-1") for name, _ in self._raw))

    def values(self) -> list[str]:
        """Every value, repeats included."""
        return [value.decode("latin-1") for _, value in self._raw]

    def items(self) -> list[tuple[str, str]]:
        """One ``(name, value)`` pair per received header line."""
        return [(name.decode("latin-1"), value.decode("latin-1")) for name, value in self._raw]

    def get_all(self, key: str) -> list[str]:
        """Every value of ``key`` (an empty list when absent)."""
        wanted = _lookup_name(key)
        return [value.decode("latin-1") for name, value in self._raw if name == wanted]

    @overload
    def get(self, key: str) -> str | None: ...
    @overload
    def get(self, key: str, default: _T) -> str | _T: ...
    def get(self, key: str, default: object = None) -> object:
        """The first value of ``key``, or ``default`` when absent."""
        try:
            wanted = name_cache[key]  # the common case, inlined: a name seen before
        except (KeyError, TypeError):
            wanted = _lookup_name(key)
        for name, value in self._raw:
            if name == wanted:
                return value.decode("latin-1")
        return default

    def __getitem__(self, key: str) -> str:
        try:
            wanted = name_cache[key]
        except (KeyError, TypeError):
            wanted = _lookup_name(key)
        for name, value in self._raw:
            if name == wanted:
                return value.decode("latin-1")
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        wanted = _lookup_name(key)
        return any(name == wanted for name, _ in self._raw)

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len({name for name, _ in self._raw})

    def __repr__(self) -> str:
        return f"Headers({self.items()!r})"


def _lookup_name(key: object) -> bytes | None:
    # A key that is not a valid token can never match a received header name.
    if not isinstance(key, str):
        return None
    return encode_name(key)
