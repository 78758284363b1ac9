"""Starting a billing run: its workflows published in one Kafka transaction, whole or not
at all, and a run whose id was claimed for good (a client's Idempotency-Key, a retry's
slot, a tick's page) published once however often it is asked for.

The coordinator's HTTP operations, the retries (``retries.py``) and the schedule's ticks
(``scheduled_billing.py``) all start runs here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from functions.context import utc_now
from functions.log_context import about_run
from functions.messages import Outgoing, Stream
from functions.runs import BillingRun, RunRecords, new_run_id, plan
from functions.storage import Run
from functions.web import HttpResponse

log = logging.getLogger(__name__)

# Publishes the messages in one transaction, committed only if the step (second) returns.
Publish = Callable[[Sequence[Outgoing], Callable[[], None]], None]


@dataclass(frozen=True)
class Coordination:
    """What the coordinator touches: Kafka to publish runs, S3 to record and follow them."""

    publish: Publish
    records: RunRecords
    clock: Callable[[], datetime] = utc_now
    make_run_id: Callable[[], str] = new_run_id


def publish_once(run: Run, stores: Coordination) -> HttpResponse:
    """Publish ``run``, whose id something claimed for good (a client's Idempotency-Key, a
    retry's slot, a tick's page), unless it was published: asked again, the same run, and
    published again if the first attempt never finished."""
    stored = stores.records.runs.get(run.run_id)
    if stored is not None and stored.published:
        log.info("billing run %s: asked again, answered with the first", stored.run_id)
        return _accepted(plan(stored), replayed=True)
    if stored is None:
        return _publish(run, stores, saved=False)
    return _publish(stored, stores, saved=True)


def _publish(run: Run, stores: Coordination, *, saved: bool) -> HttpResponse:
    """Publish the run's workflows. A run not ``saved`` yet is saved while they are on their
    way, and no reader sees one unless the save succeeded: every workflow has its run."""
    planned = plan(run)

    def save() -> None:
        if not saved:
            stores.records.runs.save(run)

    with about_run(run.run_id):
        messages = [Outgoing(Stream.WORKFLOWS, workflow) for workflow in planned.workflows]
        stores.publish(messages, save)
        stores.records.runs.save(replace(run, published=True))
        count = len(planned.workflows)
        log.info("billing run %s: %d workflow(s) acknowledged by Kafka", run.run_id, count)
    return _accepted(planned, replayed=False)


def _accepted(planned: BillingRun, replayed: bool) -> HttpResponse:
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    return HttpResponse(202, planned.summary(), headers)
