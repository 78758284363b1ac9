"""bill-on-schedule: at each tick of ``BILLING_SCHEDULE``, a run of every customer.

Ticked every few seconds by the runtime (``runtime/timers.py``), or at the tick by
EventBridge on AWS. It starts the runs through the coordinator's own path, so they are
published whole or not at all and take their identity from the tick
(``functions/schedule.py``): however many schedulers ask, a tick's runs start once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from functions.coordinator import Coordination, start_scheduled_runs
from functions.schedule import BillingSchedule
from functions.storage import CustomerStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScheduledBilling:
    schedule: BillingSchedule
    coordination: Coordination
    customers: CustomerStore


def bill_on_schedule(
    now: datetime, billing: ScheduledBilling, handled: datetime | None = None
) -> datetime | None:
    """Start the runs of the tick due at ``now``, unless it is ``handled`` already (the
    tick this scheduler last started); the tick handled now."""
    tick = billing.schedule.due(now)
    if tick is None or tick == handled:
        return handled
    name = billing.schedule.name(tick)
    run_ids = start_scheduled_runs(name, billing.coordination, billing.customers)
    if run_ids:
        log.info("schedule tick %s: run(s) %s", name, ", ".join(run_ids))
    else:
        log.info("schedule tick %s: the CRM has no customer to bill", name)
    return tick
