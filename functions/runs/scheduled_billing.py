"""bill-on-schedule: at each tick of ``BILLING_SCHEDULE``, a run of every customer.

Ticked every few seconds by the runtime (``runtime/timers.py``), or at the tick by
EventBridge on AWS. A tick bills each of its customers exactly once: its customers are
fixed a page (a run of up to 10,000) at a time by the first scheduler to plan the page, a
create that never overwrites, before the page's run is published; each later page starts
after the page before it as planned. So a page that failed, a restart, a second scheduler
or customers added between two tries change nothing of a tick already planned: its pages
are published from the plan, each through the coordinator's own path, whole or not at all.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from functions.context import iso_millis
from functions.runs.schedule import BillingSchedule
from functions.runs.starter import Coordination, publish_once
from functions.runs.status import MAX_RUN_SIZE
from functions.storage import CustomerStore, Run, TickPage, TickPlans
from functions.wire.billing_period import BillingPeriod
from functions.wire.identifiers import is_customer_id

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScheduledBilling:
    schedule: BillingSchedule
    coordination: Coordination
    customers: CustomerStore
    plans: TickPlans
    page_size: int = MAX_RUN_SIZE  # customers a tick's run bills
    period_length: str = "month"  # the period a tick bills is the one it falls in


def bill_on_schedule(
    now: datetime, billing: ScheduledBilling, handled: datetime | None = None
) -> datetime | None:
    """Start the runs of the tick due at ``now``, unless it is ``handled`` already (the
    tick this scheduler last started); the tick handled now."""
    tick = billing.schedule.due(now)
    if tick is None or tick == handled:
        return handled
    name = billing.schedule.name(tick)
    # A tick begun and not ended (a page Kafka refused, a scheduler stopped midway) is
    # finished first, however long ago it was due: each of its customers is billed once.
    for begun in billing.plans.open_ticks():
        if begun != name:
            log.info("schedule tick %s: begun and not ended; finishing it", begun)
            bill_tick(begun, billing)
    bill_tick(name, billing)
    return tick


def bill_tick(tick: str, billing: ScheduledBilling) -> list[str]:
    """Every run of ``tick`` published, page by page as planned; the runs' ids."""
    billing.plans.begin(tick)
    run_ids = start_tick(tick, billing)
    billing.plans.end(tick)
    if run_ids:
        log.info("schedule tick %s: run(s) %s", tick, ", ".join(run_ids))
    else:
        log.info("schedule tick %s: the CRM has no customer to bill", tick)
    return run_ids


def start_tick(tick: str, billing: ScheduledBilling) -> list[str]:
    """Publish each page of ``tick`` as planned, planning those not planned yet: a page a
    version before the plans claimed (``schedule:<tick>:<n>``) as it claimed it, else from
    the CRM (in its id order, after the page before); the runs' ids."""
    run_ids: list[str] = []
    stores = billing.coordination
    previous: TickPage | None = None
    while previous is None or previous.next_after is not None:
        number = 0 if previous is None else previous.number + 1
        page = billing.plans.page(tick, number)
        if page is None:
            found = _earlier_versions_page(tick, number, billing)
            page = billing.plans.plan(tick, found or _next_page(tick, number, previous, billing))
        if page.customer_ids:
            run = Run(
                page.run_id,
                iso_millis(stores.clock()),
                page.customer_ids,
                scheduled_for=tick,
                billing_period=page.billing_period,
            )
            publish_once(run, stores)
            run_ids.append(page.run_id)
        previous = page
    return run_ids


def _earlier_versions_page(tick: str, number: int, billing: ScheduledBilling) -> TickPage | None:
    """Page ``number`` of ``tick`` as a version before the plans claimed it, if it did: its
    run's customers, billed once by that run. A full page, or one that version claimed a
    next to, was followed by another, which that version may not have begun (it stopped
    after any page): the tick goes on after its last customer; any other ends it."""
    runs = billing.coordination.records.runs
    claim = runs.claimed(f"schedule:{tick}:{number}")
    run = runs.get(claim.run_id) if claim is not None else None
    # A client's Idempotency-Key may be the same text: only a run of this tick counts.
    if run is None or run.scheduled_for != tick:
        return None
    log.info("schedule tick %s: page %d is an earlier version's, %s", tick, number, run.run_id)
    more = len(run.customer_ids) >= billing.page_size
    more = more or runs.claimed(f"schedule:{tick}:{number + 1}") is not None
    last = run.customer_ids[-1] if more and run.customer_ids else None
    return TickPage(number, run.run_id, run.customer_ids, last)


def _next_page(
    tick: str, number: int, previous: TickPage | None, billing: ScheduledBilling
) -> TickPage:
    after = "" if previous is None or previous.next_after is None else previous.next_after
    listed = billing.customers.id_page(after, billing.page_size)
    billable = [customer_id for customer_id in listed.items if is_customer_id(customer_id)]
    if len(billable) < len(listed.items):
        skipped = sorted(set(listed.items) - set(billable))[:5]
        log.warning("schedule: ids the CRM holds that no run can bill skipped: %s", skipped)
    period = BillingPeriod.of(billing.schedule.wall_clock(tick), billing.period_length)
    run_id = billing.coordination.make_run_id()
    return TickPage(number, run_id, tuple(billable), listed.next_after, period)
