"""Starting runs, whoever asks: a client's request (with or without an Idempotency-Key), a
retry of a run's failures, a tick of the billing schedule (``scheduled_billing.py``).

A run is published whole or not at all: its workflows go to Kafka in one transaction, which
commits only once the run's record is saved, so no workflow is read without its run. A run
whose id was claimed for good (a key, a retry's slot, a tick's page) is published once:
asked again, the same run, published again only if the first attempt never finished.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from functions.context import iso_millis, utc_now
from functions.errors import InvalidRequest, StorageUnavailable
from functions.log_context import about_run
from functions.messages import Outgoing, Stream
from functions.runs import BillingRun, RunRecords, failed_customers, new_run_id, plan, run_status
from functions.storage import IdempotencyRecord, RetrySlot, Run

log = logging.getLogger(__name__)

# Retries asked at the same moment each take the next slot; one that finds its slot taken
# reads the slots again, at most this often, before it asks the client to.
MAX_RETRY_RACES = 5

# Publishes the messages in one transaction, committed only if the step (second) returns.
Publish = Callable[[Sequence[Outgoing], Callable[[], None]], None]


@dataclass(frozen=True)
class Coordination:
    """What starting and following runs touches: Kafka to publish, S3 to record and follow."""

    publish: Publish
    records: RunRecords
    clock: Callable[[], datetime] = utc_now
    make_run_id: Callable[[], str] = new_run_id


@dataclass(frozen=True)
class Started:
    """A run on its way: its workflows, and whether an earlier request had published it."""

    run: BillingRun
    replayed: bool
    retry_of: str | None = None


def start(
    customer_ids: Sequence[str], idempotency_key: str | None, stores: Coordination
) -> Started:
    """A new run of ``customer_ids``; with an ``idempotency_key``, the run the key started
    (the key used for other customers is refused)."""
    if idempotency_key is None:
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
    if stored is not None and stored.published:
        log.info("billing run %s: asked again, answered with the first", stored.run_id)
        return Started(plan(stored), replayed=True)
    if stored is None:
        return _publish(run, stores, saved=False)
    return _publish(stored, stores, saved=True)


def retry(run: Run, stores: Coordination) -> Started:
    """A run of the failed customers of ``run`` that no earlier retry of it holds.

    Retries of a run are numbered slots, each created once and holding its customers, and
    a slot is created only after every slot before it was read: so no two retries of a run
    hold a customer, however many are asked at once. Asked again with no new failure, the
    latest retry answers again. A retry's bills go under the run its lineage began with,
    one name a customer: a customer is billed once in a lineage (docs/guarantees.md).
    """
    failed = failed_customers(run, stores.records.failures)
    runs = stores.records.runs
    for _ in range(MAX_RETRY_RACES):
        slots = runs.retry_slots(run.run_id)
        held = {customer for slot in slots for customer in slot.customer_ids}
        held |= _held_by_earlier_versions(run.run_id, slots, stores)
        new = [customer for customer in failed if customer not in held]
        if not new and not slots:
            pending = run_status(run, stores.records, with_customers=False)["counts"]["pending"]
            waiting = f"; {pending} customer(s) are still pending" if pending else ""
            raise InvalidRequest(
                f"run {run.run_id} has no failed customer to retry{waiting}", status=409
            )
        if not new:
            return _retried(run, slots[-1], stores)
        slot = RetrySlot(len(slots) + 1, stores.make_run_id(), tuple(new))
        if runs.claim_retry_slot(run.run_id, slot):
            log.info(
                "billing run %s: retry %d holds %d customer(s)", run.run_id, slot.number, len(new)
            )
            return _retried(run, slot, stores)
    raise StorageUnavailable(
        f"run {run.run_id}: {MAX_RETRY_RACES} retries were asked at once and each took the"
        " next slot first; ask again"
    )


def _retried(run: Run, slot: RetrySlot, stores: Coordination) -> Started:
    retry = Run(
        slot.run_id,
        iso_millis(stores.clock()),
        slot.customer_ids,
        retry_of=run.run_id,
        lineage=run.bills_folder,
    )
    started = publish_once(retry, stores)
    stores.records.runs.add_retry(run.run_id, slot.run_id)
    return replace(started, retry_of=run.run_id)


def _held_by_earlier_versions(
    run_id: str, slots: list[RetrySlot], stores: Coordination
) -> set[str]:
    """The customers of retries an earlier version started, which kept no slot: their run
    records say whom they retry (one read each)."""
    runs = stores.records.runs
    slotted = {slot.run_id for slot in slots}
    held: set[str] = set()
    for retry_id in runs.retries(run_id):
        if retry_id not in slotted and (retry := runs.get(retry_id)) is not None:
            held.update(retry.customer_ids)
    return held


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
