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
from functions.identifiers import is_customer_id
from functions.run_starter import Coordination, publish_once, publish_stored
from functions.runs import MAX_RUN_SIZE
from functions.schedule import BillingSchedule
from functions.storage import CustomerStore, Run, RunStore, TickPage, TickPlans

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScheduledBilling:
    schedule: BillingSchedule
    coordination: Coordination
    customers: CustomerStore
    plans: TickPlans
    page_size: int = MAX_RUN_SIZE  # customers a tick's run bills


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
    """Every run of ``tick`` published: its planned pages, or those a version before the
    plans claimed for it; the runs' ids."""
    earlier = _earlier_versions_runs(tick, billing.coordination.records.runs)
    if earlier:
        for run in earlier:
            publish_stored(run, billing.coordination)
        run_ids = [run.run_id for run in earlier]
        log.info("schedule tick %s: started by an earlier version, its runs %s", tick, run_ids)
        return run_ids
    billing.plans.begin(tick)
    run_ids = start_tick(tick, billing)
    billing.plans.end(tick)
    if run_ids:
        log.info("schedule tick %s: run(s) %s", tick, ", ".join(run_ids))
    else:
        log.info("schedule tick %s: the CRM has no customer to bill", tick)
    return run_ids


def _earlier_versions_runs(tick: str, runs: RunStore) -> list[Run]:
    """The runs a version before the plans claimed for ``tick``, a page at a time, under
    ``schedule:<tick>:<n>`` (none if it did not start the tick)."""
    found: list[Run] = []
    while (claim := runs.claimed(f"schedule:{tick}:{len(found)}")) is not None:
        run = runs.get(claim.run_id)
        # A client's Idempotency-Key may be the same text: only a run of this tick counts.
        if run is None or run.scheduled_for != tick:
            break
        found.append(run)
    return found


def start_tick(tick: str, billing: ScheduledBilling) -> list[str]:
    """Publish each page of ``tick`` as planned, planning those not planned yet from the
    CRM (in its id order, after the page before); the runs' ids."""
    run_ids: list[str] = []
    stores = billing.coordination
    previous: TickPage | None = None
    while previous is None or previous.next_after is not None:
        number = 0 if previous is None else previous.number + 1
        page = billing.plans.page(tick, number)
        if page is None:
            page = billing.plans.plan(tick, _next_page(number, previous, billing))
        if page.customer_ids:
            run = Run(
                page.run_id,
                iso_millis(stores.clock()),
                page.customer_ids,
                scheduled_for=tick,
            )
            publish_once(run, stores)
            run_ids.append(page.run_id)
        previous = page
    return run_ids


def _next_page(number: int, previous: TickPage | None, billing: ScheduledBilling) -> TickPage:
    after = "" if previous is None or previous.next_after is None else previous.next_after
    listed = billing.customers.id_page(after, billing.page_size)
    billable = [customer_id for customer_id in listed.items if is_customer_id(customer_id)]
    if len(billable) < len(listed.items):
        skipped = sorted(set(listed.items) - set(billable))[:5]
        log.warning("schedule: ids the CRM holds that no run can bill skipped: %s", skipped)
    return TickPage(number, billing.coordination.make_run_id(), tuple(billable), listed.next_after)
