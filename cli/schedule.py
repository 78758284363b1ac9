"""``billing schedule``: BILLING_SCHEDULE's next ticks, and the last run it started."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from cli.api import Api, CliError
from cli.runs import counted


def schedule(api: Api, args: argparse.Namespace) -> int:
    planned = api.settings.schedule()
    if planned is None:
        raise CliError(
            "no BILLING_SCHEDULE is set here; set it as the runtime has it, such as"
            " BILLING_SCHEDULE='0 6 1 * *' BILLING_SCHEDULE_TZ=Europe/Amsterdam"
        )
    print(f"{planned.expression} in {planned.zone.key}; the next ticks:")
    for tick in planned.upcoming(datetime.now(UTC), args.count):
        print(f"  {tick:%Y-%m-%d %H:%M %Z}")
    runs, after = api.runs(limit=100)
    while not any("scheduledFor" in run for run in runs) and after is not None:
        runs, after = api.runs(after, 100)
    last = next((run for run in runs if "scheduledFor" in run), None)
    if last is None:
        print("no scheduled run yet")
    else:
        print(
            f"the last scheduled run: {last['runId']} for {last['scheduledFor']},"
            f" {last['state']}: {counted(last)}"
        )
    return 0
