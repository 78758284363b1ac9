"""Billing on a schedule: which tick is due, and what a tick is called.

``BILLING_SCHEDULE`` is a cron expression read in ``BILLING_SCHEDULE_TZ`` (croniter parses
it). A tick is named by its wall-clock time in that zone (``2026-10-25T02:30
Europe/Amsterdam``), and the runs it starts take their identity from that name through
the coordinator's idempotency claim: so two schedulers, a restart across the tick, or a
tick delivered twice start its runs once. The hour a clock turns back repeats wall-clock
times: a tick in it bills once, as Vixie cron runs a job once; a tick in the hour a clock
skips comes right after the jump (croniter's reading).

A tick missed while nothing ran is caught up when a scheduler comes back within
``SCHEDULE_CATCH_UP_S`` of it: only the latest such tick, once, never one run per missed
tick.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from functions.errors import ConfigurationError


@dataclass(frozen=True)
class BillingSchedule:
    expression: str
    zone: ZoneInfo
    catch_up: timedelta

    @classmethod
    def parse(cls, expression: str, zone: str, catch_up_s: float) -> BillingSchedule:
        """The schedule, or a ConfigurationError naming the variable: an expression of other
        than five fields (croniter also takes seconds and years), or with no tick to come
        (``0 0 30 2 *``), is refused here, before a scheduler starts on it."""
        # Only where there is a schedule: `billing --help` stays quick.
        from croniter import CroniterError, croniter

        usage = (
            "use five fields, minute hour day-of-month month day-of-week, like '0 6 1 * *'"
            " (06:00 on the 1st)"
        )
        if len(expression.split()) != 5 or not croniter.is_valid(expression):
            raise ConfigurationError(
                f"BILLING_SCHEDULE={expression!r} is not a cron expression of five fields; {usage}"
            )
        try:
            found = ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigurationError(
                f"BILLING_SCHEDULE_TZ={zone!r} is not a time zone; use an IANA name such as"
                " UTC or Europe/Amsterdam"
            ) from None
        schedule = cls(expression, found, timedelta(seconds=catch_up_s))
        try:
            schedule.upcoming(datetime.now(UTC), 1)
        except CroniterError:
            raise ConfigurationError(
                f"BILLING_SCHEDULE={expression!r} names no time that comes (such as 30"
                f" February); {usage}"
            ) from None
        return schedule

    def due(self, now: datetime) -> datetime | None:
        """The latest tick at or before ``now`` (in UTC: the two passes of a repeated hour
        are two instants), unless it is older than the catch-up."""
        from croniter import croniter

        # croniter's previous tick excludes the moment it starts from: start just after now,
        # by less than any tick's distance (a whole second made 07:40 due at 07:39:59.7).
        latest: datetime = croniter(
            self.expression, now.astimezone(self.zone) + timedelta(microseconds=1)
        ).get_prev(datetime)
        tick = latest.astimezone(UTC)
        return tick if now - tick <= self.catch_up else None

    def upcoming(self, now: datetime, count: int) -> list[datetime]:
        from croniter import croniter

        ticks = croniter(self.expression, now.astimezone(self.zone))
        return [ticks.get_next(datetime) for _ in range(count)]

    def wall_clock(self, name: str) -> datetime:
        """The time a tick's ``name`` shows on its zone's clock (``name`` reversed, without
        the zone): which billing period it falls in."""
        return datetime.fromisoformat(name.split(" ", 1)[0])

    def name(self, tick: datetime) -> str:
        """The tick as its zone's clock shows it: the same for both passes of a repeated hour."""
        return f"{tick.astimezone(self.zone):%Y-%m-%dT%H:%M} {self.zone.key}"
