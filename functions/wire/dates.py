"""ISO 8601 dates as patterns, which the OpenAPI document shows and the server applies
alike: every day of the calendars of the years a run can have (2000 to 9998), leap days
included, in ASCII digits ([0-9], not Python's \\d, which takes every script's digits)."""

from __future__ import annotations

# The years a time may name: a run's id holds a four-digit year, and any zone's offset
# keeps these within it (datetime raises past the year 9999).
YEARS = (2000, 9998)
YEAR = r"(2[0-9]{3}|[3-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])"
# Divisible by 4, and not a century unless divisible by 400.
LEAP_YEAR = r"([2-9][0-9](0[48]|[2468][048]|[13579][26])|(2[048]|[3579][26]|[468][048])00)"
# A month and a day of it, 29 February aside (LEAP_YEAR's).
DAY = (
    r"((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)"
    r"|02-(0[1-9]|1[0-9]|2[0-8]))"
)
