"""Starting a billing run: its workflows published in one Kafka transaction, whole or not
at all, and a run whose id was claimed for good (a client's Idempotency-Key, a retry's
slot, a tick's page) published once however often it is asked for.

The coordinator's HTTP operations, the retries (``retries.py``) and the schedule's ticks
(``scheduled_billing.py``) all start runs here; what they get back is a ``Started`` run,
which the coordinator alone turns into an HTTP answer.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from functions.context import iso_millis, utc_now
from functions.errors import InvalidRequest
from functions.log_context import about_run
from functions.messages import Outgoing, Stream
from functions.runs import BillingRun, RunRecords, new_run_id, plan
from functions.storage import IdempotencyRecord, Run

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


@dataclass(frozen=True)
class Started:
    """A run on its way: its workflows, whether an earlier request had published it, and
    the run it retries, if it is a retry."""

    run: BillingRun
    replayed: bool
    retry_of: str | None = None


def start(
    customer_ids: Sequence[str], idempotency_key: str | None, stores: Coordination
) -> Started:
    """A new run of ``customer_ids``; with an ``idempotency_key``, the run the key started
    (the key used for other customers is refused)."""
    if idempotency_key is None:  # a new id: nothing can be stored under it yet
        run = Run(stores.make_run_id(), iso_millis(stores.clock()), tuple(customer_ids))
        return _publish(run, stores, saved=False)
    digest = hashlib.sha256(json.dumps(list(customer_ids)).encode()).hexdigest()
    claimed = stores.records.runs.claim(
        idempotency_key, IdempotencyRecord(stores.make_run_id(), digest)
    )
    if claimed.request_digest != digest:
        raise InvalidRequest(
            f"Idempotency-Key {idempotency_key!r} started run {claimed.run_id} for other"
            " customers; use a new key for a new run",
            status=422,
        )
    run = Run(claimed.run_id, iso_millis(stores.clock()), tuple(customer_ids))
    return publish_once(run, stores)


def publish_once(run: Run, stores: Coordination) -> Started:
    """Publish ``run``, whose id something claimed for good (a client's Idempotency-Key, a
    retry's slot, a tick's page), unless it was published: asked again, the same run, and
    published again if the first attempt never finished."""
    stored = stores.records.runs.get(run.run_id)
    if stored is None:
        return _publish(run, stores, saved=False)
    return publish_stored(stored, stores)


def publish_stored(stored: Run, stores: Coordination) -> Started:
    """A run read from the store: answered as it is if it was published, else published."""
    if stored.published:
        log.info("billing run %s: asked again, answered with the first", stored.run_id)
        return Started(plan(stored), replayed=True)
    return _publish(stored, stores, saved=True)


def _publish(run: Run, stores: Coordination, *, saved: bool) -> Started:
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
    return Started(planned, replayed=False)
