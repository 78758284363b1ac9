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
from functions.errors import InvalidRequest, StorageUnavailable
from functions.log_context import about_run
from functions.runs.status import BillingRun, RunRecords, kafka_took, new_run_id, plan
from functions.storage import BillStore, IdempotencyRecord, Run
from functions.storage.keys import bill_in
from functions.wire.messages import Outgoing, Stream

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


def request_digest(customer_ids: Sequence[str], billing_period: str | None) -> str:
    """What an Idempotency-Key binds: the customers, and the period if there is one (a run
    without one binds what versions before the periods bound)."""
    request: object = list(customer_ids)
    if billing_period is not None:
        request = {"customerIdentifiers": request, "billingPeriod": billing_period}
    return hashlib.sha256(json.dumps(request).encode()).hexdigest()


def start(
    customer_ids: Sequence[str],
    idempotency_key: str | None,
    stores: Coordination,
    billing_period: str | None = None,
    started_by: str | None = None,
) -> Started:
    """A new run of ``customer_ids`` (of ``billing_period``, if given), ``started_by`` a
    caller; with an
    ``idempotency_key``, the run the key started (the key used for other customers or
    another period is refused)."""
    if idempotency_key is None:  # a new id: nothing can be stored under it yet
        run = Run(
            stores.make_run_id(),
            iso_millis(stores.clock()),
            tuple(customer_ids),
            billing_period=billing_period,
            started_by=started_by,
        )
        return _publish(run, stores, saved=False)
    digest = request_digest(customer_ids, billing_period)
    claimed = stores.records.runs.claim(
        idempotency_key, IdempotencyRecord(stores.make_run_id(), digest)
    )
    if claimed.request_digest != digest:
        raise InvalidRequest(
            f"Idempotency-Key {idempotency_key!r} started run {claimed.run_id} for other"
            " customers or another billing period; use a new key for a new run",
            status=422,
        )
    stored = stores.records.runs.get(claimed.run_id)
    if stored is not None and (stored.retry_of is not None or stored.scheduled_for is not None):
        # A claim an earlier version made for a retry or a tick under a key of the same
        # namespace (retry:..., schedule:...): never a client's run.
        raise InvalidRequest(
            f"Idempotency-Key {idempotency_key!r} is taken by a run the coordinator started"
            " itself; use another key",
            status=422,
        )
    if stored is None:
        run = Run(
            claimed.run_id,
            iso_millis(stores.clock()),
            tuple(customer_ids),
            billing_period=billing_period,
            started_by=started_by,
        )
        return _publish(run, stores, saved=False)
    return publish_stored(stored, stores, started_by)


def publish_once(run: Run, stores: Coordination) -> Started:
    """Publish ``run``, whose id something claimed for good (a client's Idempotency-Key, a
    retry's slot, a tick's page), unless it was published: asked again, the same run, and
    published again if the first attempt never finished."""
    stored = stores.records.runs.get(run.run_id)
    if stored is None:
        return _publish(run, stores, saved=False)
    return publish_stored(stored, stores, run.started_by)


def publish_stored(stored: Run, stores: Coordination, started_by: str | None = None) -> Started:
    """A run read from the store: answered as it is if it was published (or Kafka took it,
    though its record did not say so: one of its workflows was seen), else published, as
    started by ``started_by`` (if given): the caller whose request put it on Kafka, as the
    audit says, not the one whose request saved it and was answered 503."""
    if stored.published or kafka_took(stored, stores.records):
        log.info("billing run %s: asked again, answered with the first", stored.run_id)
        if not stored.published:
            _say_published(stored, stores)
        return Started(plan(stored), replayed=True)
    if started_by is not None:
        stored = replace(stored, started_by=started_by)
    return _publish(stored, stores, saved=True)


def _publish(run: Run, stores: Coordination, *, saved: bool) -> Started:
    """Publish the run's workflows. A run not ``saved`` yet is saved while they are on their
    way, and no reader sees one unless the save succeeded: every workflow has its run. A
    run of a period is planned first without its customers billed in the period.

    Raises only if nothing was published. A run Kafka refused is kept, unlisted (the list
    shows a run once Kafka took it), for the same request again. Once Kafka has the
    workflows, the record's ``published`` is a write that may fail, and the run's status
    tells it from its workflows' bills and failures instead (``runs.kafka_took``)."""
    if not saved and run.billing_period is not None:
        run = _without_billed(run, stores.records.bills)
    planned = plan(run)

    def save() -> None:
        if not saved:
            stores.records.runs.save(run)

    with about_run(run.run_id):
        if not planned.workflows:  # every customer billed in the period: nothing for Kafka
            stores.records.runs.list_run(run.run_id)
            stores.records.runs.save(replace(run, published=True))
            log.info("billing run %s: every customer billed in its period already", run.run_id)
            return Started(planned, replayed=False)
        messages = [Outgoing(Stream.WORKFLOWS, workflow) for workflow in planned.workflows]
        try:
            stores.publish(messages, save)
        except StorageUnavailable as exc:  # the save: the transaction was aborted
            raise StorageUnavailable(f"nothing was published: {exc}") from exc
        _say_published(run, stores)
        count = len(planned.workflows)
        log.info("billing run %s: %d workflow(s) acknowledged by Kafka", run.run_id, count)
    return Started(planned, replayed=False)


def _without_billed(run: Run, bills: BillStore) -> Run:
    """The run, its customers billed in its period already marked so: a HEAD each of a
    few, else a listing of the part of the period's bills they span (a request per 1,000)."""
    assert run.billing_period is not None
    names = {bill_in(run.billing_period, customer): customer for customer in run.customer_ids}
    billed = frozenset(names[name] for name in bills.existing(names))
    if billed:
        log.info(
            "billing run %s: %d customer(s) billed in %s already; no workflow for them",
            run.run_id,
            len(billed),
            run.billing_period,
        )
    return replace(run, billed_before=billed)


def _say_published(run: Run, stores: Coordination) -> None:
    """The run is listed, and its record says Kafka took it; should S3 fail here, the run's
    status says it from its workflows, and lists it (``status.run_status``)."""
    try:
        stores.records.runs.list_run(run.run_id)
        stores.records.runs.save(replace(run, published=True))
    except StorageUnavailable as exc:
        log.warning(
            "billing run %s: Kafka has its workflows, but its record could not say so (%s);"
            " its status tells it from them",
            run.run_id,
            str(exc).splitlines()[0],
        )
