"""Retrying a run's failed customers, so that a run and its retries bill each customer at
most once (docs/guarantees.md).

A run's retries are numbered slots (``retry-slots/<run>/<n>.json``), each created once and
holding its customers; slot n+1 is created only after slots 1 to n were read, so no two
retries of a run hold one customer, however many are asked at once. Every run of a
lineage names a customer's bill after the run the lineage began with, so a customer a
failed workflow leaves with a bill after all (a batch that read the run as running before
its cancel) is billed once all the same.

Retries of an earlier version kept no slot: a marker ``retries/<run>/<retry>.json`` named
each (and, its write failed, the claim ``retry:<run>:<digest of the failures>`` alone).
Their customers are held as a slot's are.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, replace

from functions.context import iso_millis
from functions.errors import InvalidRequest, PublishFailed, StorageUnavailable
from functions.runs.starter import Coordination, Started, publish_once, publish_stored
from functions.runs.status import failed_customers, run_status
from functions.storage import RetrySlot, Run, RunStore

log = logging.getLogger(__name__)

# Retries asked at the same moment each take the next slot; one that finds its slot taken
# reads the slots again, at most this often, before it asks the client to.
MAX_RETRY_RACES = 5


@dataclass(frozen=True)
class Retries:
    """A run's retries as they are kept: its slots, and those of an earlier version."""

    slots: list[RetrySlot]
    listed: list[str]  # the retries' markers, oldest first
    legacy: list[Run]  # retries an earlier version started, without a slot

    @property
    def held(self) -> set[str]:
        retried = [slot.customer_ids for slot in self.slots]
        retried += [run.customer_ids for run in self.legacy]
        return {customer for customers in retried for customer in customers}


def retry(run: Run, coordination: Coordination, by: str | None = None) -> Started:
    """A run of the failed customers of ``run`` that no earlier retry of it holds; with no
    new failure, the latest retry again; 409 when nothing failed.

    Raises only if nothing was published: once an earlier retry went out in this call, a
    failure after it answers with that retry, and the newer failures wait for the next."""
    went_out: list[Started] = []
    try:
        return _retry(run, coordination, went_out, by)
    except (StorageUnavailable, PublishFailed) as error:
        if not went_out:
            raise
        log.warning(
            "billing run %s: an earlier retry went out, the next could not (%s); ask again",
            run.run_id,
            error,
        )
        return went_out[-1]


def _retry(
    run: Run, coordination: Coordination, went_out: list[Started], by: str | None
) -> Started:
    failed = failed_customers(run, coordination.records.failures)
    runs = coordination.records.runs
    for _ in range(MAX_RETRY_RACES):
        kept = _retries(run, failed, runs)
        new = [customer for customer in failed if customer not in kept.held]
        # A retry whose publishing failed (a crash, Kafka away) or whose marker was not
        # written holds its customers: it goes out, and is listed, before another is taken.
        for earlier in kept.slots:
            if earlier.run_id not in kept.listed and (new or earlier != kept.slots[-1]):
                went_out.append(_publish(run, earlier, coordination, by))
        if not new:
            return _latest(run, kept, coordination, by)
        slot = RetrySlot(len(kept.slots) + 1, coordination.make_run_id(), tuple(new))
        if runs.claim_retry_slot(run.run_id, slot):
            log.info(
                "billing run %s: retry %d holds %d customer(s)", run.run_id, slot.number, len(new)
            )
            return _publish(run, slot, coordination, by)
    raise StorageUnavailable(
        f"run {run.run_id}: {MAX_RETRY_RACES} retries were asked at once and each took the"
        " next slot first; ask again"
    )


def _retries(run: Run, failed: list[str], runs: RunStore) -> Retries:
    slots = runs.retry_slots(run.run_id)
    listed = runs.retries(run.run_id)
    slotted = {slot.run_id for slot in slots}
    legacy_ids = [retry_id for retry_id in listed if retry_id not in slotted]
    legacy = [found for retry_id in legacy_ids if (found := runs.get(retry_id)) is not None]
    if not slots and not legacy_ids and failed:
        # An earlier version's retry of these very failures whose marker was never written:
        # its claim is in the namespace of the clients' keys, so only a retry of this run
        # counts (a client's POST / may have sent the same text as its Idempotency-Key).
        digest = hashlib.sha256(json.dumps(failed).encode()).hexdigest()[:32]
        claim = runs.claimed(f"retry:{run.run_id}:{digest}")
        found = runs.get(claim.run_id) if claim is not None else None
        if found is not None and found.retry_of == run.run_id:
            runs.add_retry(run.run_id, found.run_id)
            legacy.append(found)
    return Retries(slots, listed, legacy)


def _latest(run: Run, kept: Retries, coordination: Coordination, by: str | None) -> Started:
    if kept.slots:
        return _publish(run, kept.slots[-1], coordination, by)
    if kept.legacy:  # as the earlier version answered: with its retry of these failures
        return replace(publish_stored(kept.legacy[-1], coordination), retry_of=run.run_id)
    pending = run_status(run, coordination.records, with_customers=False)["counts"]["pending"]
    waiting = f"; {pending} customer(s) are still pending" if pending else ""
    raise InvalidRequest(f"run {run.run_id} has no failed customer to retry{waiting}", status=409)


def _publish(run: Run, slot: RetrySlot, coordination: Coordination, by: str | None) -> Started:
    """The slot's run published, of the run's period if it has one, and listed among the
    run's retries (a marker whose write may fail once Kafka has the run: the next retry
    writes it)."""
    retry_run = Run(
        slot.run_id,
        iso_millis(coordination.clock()),
        slot.customer_ids,
        retry_of=run.run_id,
        lineage=run.lineage or run.run_id,
        billing_period=run.billing_period,
        started_by=by,
    )
    started = publish_once(retry_run, coordination)
    try:
        coordination.records.runs.add_retry(run.run_id, slot.run_id)
    except StorageUnavailable:
        log.warning("retry %s of %s: published, not listed yet", slot.run_id, run.run_id)
    return replace(started, retry_of=run.run_id)
