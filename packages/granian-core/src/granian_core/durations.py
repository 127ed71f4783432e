"""Durations as Granian's CLI accepts them: ``'90'``, ``'10s'``, ``'1m30s'``, ``'1d12h'``.

A bare number is seconds; otherwise number+unit parts in d, h, m, s order, each at
most once. The error messages are Granian's (GRANIAN-BEHAVIOUR.md §15), so the
CLI's ``Duration`` type can hand them to click unchanged.
"""

from __future__ import annotations

import re

__all__ = ["check_duration_range", "parse_duration"]

_SECONDS = re.compile(r"[0-9]+")
_DURATION = re.compile(
    r"(?:(?P<d>[0-9]+)d)?(?:(?P<h>[0-9]+)h)?(?:(?P<m>[0-9]+)m)?(?:(?P<s>[0-9]+)s)?"
)
_UNIT_SECONDS = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}


def parse_duration(value: str | int) -> int:
    """Seconds in ``value``; an ``int`` passes through. Raises ``ValueError``."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a valid duration")
    text = value.strip()
    if _SECONDS.fullmatch(text):
        return int(text)
    match = _DURATION.fullmatch(text)
    if not text or match is None:
        raise ValueError(f"{value!r} is not a valid duration")
    return sum(
        int(amount) * _UNIT_SECONDS[unit]
        for unit, amount in match.groupdict().items()
        if amount is not None
    )


def check_duration_range(
    value: object, seconds: int, minimum: int | None = None, maximum: int | None = None
) -> None:
    """Raise ``ValueError`` (Granian's wording) if ``seconds`` is outside the bounds."""
    if maximum is not None and seconds > maximum:
        raise ValueError(
            f"{value!r} is greater than the maximum allowed value of {maximum} seconds"
        )
    if minimum is not None and seconds < minimum:
        raise ValueError(f"{value!r} is less than the minimum allowed value of {minimum} seconds")
