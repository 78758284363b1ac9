"""Billing periods: the identity of a bill. A customer has at most one bill a period,
``s3://<bills>/<period>/customer-bill-<customer id>.txt``, created once, whatever runs,
retries, ticks and redeliveries bill it (docs/guarantees.md).

A period is a calendar day, month, quarter or year, named as ISO 8601 names them:
``2026-12-06``, ``2026-12``, ``2026-Q4``, ``2026``. The schedule bills the period its tick
falls in, in its zone, of the length ``BILLING_PERIOD`` says (a month unless set).

No pydantic here: the engine's functions read a period off a workflow.
"""

from __future__ import annotations

import re
from datetime import datetime

from functions.errors import InvalidRequest
from functions.wire.dates import DAY, LEAP_YEAR, YEAR

PERIOD_LENGTHS = ("day", "month", "quarter", "year")
# Every form, its calendar checked by the pattern alone: a document and the server take the
# same texts (29 February only in a leap year). [0-9], not \d: ECMAScript's \d is ASCII.
PERIOD_PATTERN = (
    rf"({YEAR}-{DAY}|{LEAP_YEAR}-02-29"  # a day
    rf"|{YEAR}-(0[1-9]|1[0-2])"  # a month
    rf"|{YEAR}-Q[1-4]"  # a quarter
    rf"|{YEAR})"  # a year
)
PERIOD_RULE = (
    "a calendar day, month, quarter or year, as 2026-12-06, 2026-12, 2026-Q4 or 2026"
    " (the years 2000 to 9998)"
)
# The pattern in words, for a refusal.
PERIOD_FORMS = (
    "give YYYY-MM (a month: 2026-12), YYYY-MM-DD (a day: 2026-12-06), YYYY-Qn (a quarter:"
    " 2026-Q4) or YYYY (a year: 2026), of a date that exists, in the years 2000 to 9998"
)


class BillingPeriod(str):
    """A billing period's name; a value of this type has been checked. It stands in the
    bills' keys as it is (digits, ``-`` and ``Q``)."""

    PATTERN = re.compile(PERIOD_PATTERN)
    EXAMPLE = "2026-12"

    def __new__(cls, text: str) -> BillingPeriod:
        if not cls.is_one(text):
            raise InvalidRequest(f"{text[:40]!r} is not a billing period; {PERIOD_FORMS}")
        return super().__new__(cls, text)

    @classmethod
    def is_one(cls, text: str) -> bool:
        return cls.PATTERN.fullmatch(text) is not None

    @classmethod
    def of(cls, moment: datetime, length: str) -> BillingPeriod:
        """The period of ``length`` (one of ``PERIOD_LENGTHS``) that ``moment`` falls in, as
        its own clock shows it (give it in the schedule's zone)."""
        if length == "day":
            return cls(f"{moment:%Y-%m-%d}")
        if length == "month":
            return cls(f"{moment:%Y-%m}")
        if length == "quarter":
            return cls(f"{moment:%Y}-Q{(moment.month - 1) // 3 + 1}")
        if length == "year":
            return cls(f"{moment:%Y}")
        raise ValueError(f"{length!r} is not a period length; use one of {PERIOD_LENGTHS}")
