"""Query values, parsed one way a type: every HTTP operation reads its query through these,
so no value reaches ``int()`` or ``datetime`` unchecked, and each refusal names the
parameter and what it takes."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from functions.errors import InvalidRequest

_DIGITS = re.compile(r"[0-9]{1,9}")  # ASCII only: str.isdigit() takes "²", int() does not
# The years a time may name: a run's id holds a four-digit year, and any zone's offset
# keeps these within it (datetime raises past the year 9999).
YEARS = (2000, 9998)


def whole_number(query: Mapping[str, str], name: str, least: int, most: int, default: int) -> int:
    """``name`` as a whole number from ``least`` to ``most``; ``default`` when absent."""
    if name not in query:
        return default
    text = query[name]
    if _DIGITS.fullmatch(text) is None or not least <= int(text) <= most:
        raise InvalidRequest(f"{name} must be a whole number from {least} to {most}, got {text!r}")
    return int(text)


def one_of(query: Mapping[str, str], name: str, choices: Sequence[str]) -> str | None:
    """``name`` if it is one of ``choices``; None when absent."""
    value = query.get(name)
    if value is not None and value not in choices:
        raise InvalidRequest(f"{name}={value!r}; use one of {', '.join(choices)}")
    return value


def flag(query: Mapping[str, str], name: str, default: bool) -> bool:
    """``name=true`` or ``name=false``."""
    value = query.get(name)
    if value is not None and value not in ("true", "false"):
        raise InvalidRequest(f"{name}={value!r}; use true or false")
    return default if value is None else value == "true"


def moment(query: Mapping[str, str], name: str) -> datetime | None:
    """``name`` as an ISO 8601 date or time (UTC unless it names its zone) of a year in
    ``YEARS``, in UTC; None when absent."""
    if name not in query:
        return None
    text = query[name]
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidRequest(
            f"{name}={text!r} is not a time; use ISO 8601, like 2026-12-01 or 2026-12-01T08:00:00Z"
        ) from None
    first, last = YEARS
    if not first <= parsed.year <= last:
        raise InvalidRequest(
            f"{name}={text!r} is outside the times a run can have; give a year from {first}"
            f" to {last}"
        )
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def text(
    query: Mapping[str, str], name: str, pattern: re.Pattern[str], most: int, what: str
) -> str | None:
    """``name`` if it has at most ``most`` characters and matches ``pattern``; None when
    absent. ``what`` says what it should be."""
    value = query.get(name)
    if value is not None and (len(value) > most or pattern.fullmatch(value) is None):
        raise InvalidRequest(f"{name}={value[:80]!r} is not {what}")
    return value
