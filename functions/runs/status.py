"""Billing runs: their ids, their workflows, and how far each run has got.

A run's workflows are ``<run id>-<n>``, so the run of any workflow can be read off its
id, and everything a run leaves in S3 shares a prefix: its bills lie under
``<run id>/``, its waiting jobs under ``waiting/<run id>/``, its failures under
``failed/<run id>-``. A run's status therefore costs three listings (one request per
1,000 objects), one read per failure and one per batch of waiting jobs not read before,
whatever else the buckets hold.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from functions.context import utc_now
from functions.errors import InvalidRequest, StorageUnavailable
from functions.log_context import about_run
from functions.runs.answers import (
    RUN_STATES,
    AcceptedWorkflow,
    Counts,
    CustomerOfRun,
    CustomerState,
    ListedRun,
    RunAccepted,
    RunState,
    RunStatus,
)
from functions.storage import (
    BillStore,
    CustomerStore,
    JobFailures,
    Run,
    RunCancellations,
    RunProgress,
    RunStore,
    RunSummary,
)
from functions.storage.keys import bill_in, bill_name, bills_of_run, workflow_prefix
from functions.wire.identifiers import RunId, WorkflowId
from functions.wire.messages import BILL_GENERATION, BILLING_PERIOD, LINEAGE, WorkflowMessage

log = logging.getLogger(__name__)
Described = TypeVar("Described", ListedRun, RunStatus)

MAX_RUN_SIZE = 10_000  # customers a run bills at most


def new_run_id() -> RunId:
    """A run starting now: ``run-20261127T200347-1f2e3d4c``."""
    return RunId.new(utc_now())


@dataclass(frozen=True)
class BillingRun:
    run_id: str
    workflows: tuple[WorkflowMessage, ...]
    lineage: str | None = None
    billing_period: str | None = None
    billed_before: tuple[str, ...] = ()  # its customers billed in the period already

    def summary(self) -> RunAccepted:
        summary: RunAccepted = {
            "runId": self.run_id,
            "workflows": [
                AcceptedWorkflow(
                    customerIdentifier=workflow.customer_identifier,
                    workflowId=workflow.workflow_id.text,
                )
                for workflow in self.workflows
            ],
        }
        if self.lineage is not None:
            summary["lineage"] = self.lineage
        if self.billing_period is not None:
            summary["billingPeriod"] = self.billing_period
            summary["billedBefore"] = list(self.billed_before)
        return summary


def plan(run: Run) -> BillingRun:
    """One workflow per customer not billed in the run's period already; the n-th
    customer's is ``<run id>-<n>``, unique without any clock. A retry's workflows name the
    run its lineage began with, a period's run's the period: their bills go under it."""
    named = {LINEAGE: run.lineage} if run.lineage is not None else {}
    if run.billing_period is not None:
        named[BILLING_PERIOD] = run.billing_period
    workflows = tuple(
        WorkflowMessage(
            workflow_type=BILL_GENERATION,
            workflow_id=WorkflowId(f"{run.run_id}-{number}"),
            create_time=run.create_time,
            payload={"customerIdentifier": customer_id, **named},
        )
        for number, customer_id in enumerate(run.customer_ids, start=1)
        if customer_id not in run.billed_before
    )
    billed_before = tuple(c for c in run.customer_ids if c in run.billed_before)
    return BillingRun(run.run_id, workflows, run.lineage, run.billing_period, billed_before)


def bill_names(accepted: Mapping[str, Any]) -> list[str]:
    """The names the bills of a run's workflows will have, read off the coordinator's 202
    (the ``BillingRun.summary()`` a client received)."""
    folder = accepted.get("billingPeriod") or accepted.get("lineage")
    return [
        bill_name(w["customerIdentifier"], WorkflowId(w["workflowId"]), folder)
        for w in accepted["workflows"]
    ]


def failed_customers(run: Run, failures: JobFailures) -> list[str]:
    """The run's customers whose workflow failed, in the run's order: from a listing of
    its failures (a request per 1,000), never a read of each."""
    failed = failures.workflow_keys(workflow_prefix(run.run_id))
    return [w.customer_identifier for w in plan(run).workflows if w.workflow_id.key in failed]


@dataclass(frozen=True)
class CustomerPage:
    """Which of a run's customers a status shows: those after the ``after``-th workflow
    (a run's workflows are numbered from 1), at most ``limit`` of them."""

    after: int = 0
    limit: int = MAX_RUN_SIZE


@dataclass(frozen=True)
class RunRecords:
    """Where the coordinator reads a run and how far it is, and a period's books."""

    runs: RunStore
    progress: RunProgress
    failures: JobFailures
    bills: BillStore
    cancellations: RunCancellations
    customers: CustomerStore  # the CRM's, read for a period's books


def run_status(
    run: Run,
    records: RunRecords,
    state: CustomerState | None = None,
    with_customers: bool = True,
    page: CustomerPage | None = None,
) -> RunStatus:
    """Counts of the run's customers by state, the run's own state, and each customer's
    (only those in ``state``, if given; none without ``with_customers``; those of ``page``
    if given). A workflow that failed counts as failed, whatever bill its lineage or period
    holds for the customer (another run's, or its own written as it failed): that way a
    run's counts never change once nothing of it is pending, and a retry holds its
    failures. A customer billed in the run's period before it was planned counts as
    billed, naming the bill and (a read each, for those shown) the run that wrote it."""
    page = page or CustomerPage()
    planned = plan(run)
    folder = run.billing_period or run.lineage
    names = {
        workflow.workflow_id.key: bill_name(
            workflow.customer_identifier, workflow.workflow_id, folder
        )
        for workflow in planned.workflows
    }
    billed = _billed(run, set(names.values()), records.bills)
    failed_keys = records.failures.workflow_keys(workflow_prefix(run.run_id))
    # Whether a pending customer's question was asked costs a read of each batch object.
    waiting = records.progress.asked_keys(run.run_id) if with_customers else set()
    workflows = iter(planned.workflows)
    counts = Counts(pending=0, billed=0, failed=0)
    customers: list[CustomerOfRun] = []
    shown_failures = []
    shown_billed_before: list[CustomerOfRun] = []
    last_shown, more = 0, False
    for number, customer_id in enumerate(run.customer_ids, start=1):
        if customer_id in run.billed_before:
            entry = CustomerOfRun(
                customerIdentifier=customer_id,
                state="billed",
                bill=bill_in(run.billing_period or run.run_id, customer_id),
                billedBefore=True,
            )
            workflow = None
        else:
            workflow = next(workflows)
            key = workflow.workflow_id.key
            entry = CustomerOfRun(
                customerIdentifier=customer_id,
                workflowId=workflow.workflow_id.wire,
                state="pending",
            )
            if key in failed_keys:
                entry["state"] = "failed"
            elif names[key] in billed:
                entry["state"], entry["bill"] = "billed", names[key]
            else:
                entry["asked"] = key in waiting
        counts[entry["state"]] += 1
        if not with_customers or state not in (None, entry["state"]) or number <= page.after:
            continue
        if len(customers) == page.limit:
            more = True
            continue
        customers.append(entry)
        last_shown = number
        if workflow is None:
            shown_billed_before.append(entry)
        elif entry["state"] == "failed":
            shown_failures.append((entry, workflow.workflow_id))
    # Read only for the failures shown: one GET each, a few at a time.
    shown = records.failures.get_all([workflow_id for _, workflow_id in shown_failures])
    for (entry, _), failure in zip(shown_failures, shown, strict=True):
        entry["reason"] = failure.reason if failure else "the failure record vanished"
    # And the run that wrote each bill of the period shown that this run found: a HEAD each.
    writers = records.bills.writers([entry["bill"] for entry in shown_billed_before])
    for entry, writer in zip(shown_billed_before, writers, strict=True):
        billed_by = RunId.of_workflow(writer) if writer else None
        if billed_by is not None:
            entry["billedBy"] = billed_by
    published = (
        run.published
        or not planned.workflows  # nothing to send: every customer billed in the period
        or kafka_took(run, records, billed, failed_keys)
    )
    cancellation = records.cancellations.cancellation(run.run_id)
    cancelled_at = None if cancellation is None else cancellation.at
    status = _described(
        run,
        RunStatus(
            runId=run.run_id,
            createTime=run.create_time,
            total=len(run.customer_ids),
            counts=counts,
            state=_state(counts, cancelled_at),
            published=published,
            done=counts["pending"] == 0,
            retries=records.runs.retries(run.run_id),
            customers=customers,
        ),
    )
    if page.limit < len(run.customer_ids):
        status["next"] = last_shown if more else None
    if cancellation is not None:
        status["cancelledAt"] = cancellation.at
        if cancellation.by is not None:
            status["cancelledBy"] = cancellation.by
    _keep_what_it_came_to(run, published, counts, status["state"], records)
    return status


def _billed(run: Run, names: set[str], bills: BillStore) -> set[str]:
    """Which of ``names``, the bills of the run's workflows, exist: a listing of the run's
    folder (its own, or its lineage's: a request per 1,000 of its bills); a period's run's,
    a read each if they are few, else a listing of the part of the period they span."""
    if run.billing_period is not None:
        return bills.existing(names)
    return set(bills.names(bills_of_run(run.bills_folder)))


def kafka_took(
    run: Run,
    records: RunRecords,
    billed: set[str] | None = None,
    failed_keys: set[str] | None = None,
) -> bool:
    """Whether Kafka took the workflows of a run whose record does not say so (the write
    after the transaction failed): one of them failed, was billed under the run's own name,
    or waits for its answer. ``billed`` (its workflows' bills that exist) and
    ``failed_keys``, if known already, save their listings."""
    if failed_keys is None:
        failed_keys = records.failures.workflow_keys(workflow_prefix(run.run_id))
    if failed_keys:
        return True
    if run.billing_period is None and run.lineage is None:
        if billed is None:
            billed = set(records.bills.names(bills_of_run(run.run_id)))
        if billed:
            return True
    return records.progress.any_waiting(run.run_id)


def _state(counts: Counts, cancelled_at: str | None) -> RunState:
    if cancelled_at is not None:
        return "cancelled"
    return "done" if counts["pending"] == 0 else "running"


def _listed(run: Run, counts: Counts, state: RunState) -> ListedRun:
    listed = ListedRun(
        runId=run.run_id,
        createTime=run.create_time,
        total=len(run.customer_ids),
        counts=counts,
        state=state,
    )
    return _described(run, listed)


def _described(run: Run, described: Described) -> Described:
    """``described`` with what a run may also say: the run it retries, the tick that
    started it, the run its lineage began with, the period it bills."""
    if run.billing_period is not None:
        described["billingPeriod"] = run.billing_period
        described["billedBefore"] = len(run.billed_before)
    if run.retry_of is not None:
        described["retryOf"] = run.retry_of
    if run.scheduled_for is not None:
        described["scheduledFor"] = run.scheduled_for
    if run.lineage is not None:
        described["lineage"] = run.lineage
    if run.started_by is not None:
        described["startedBy"] = run.started_by
    return described


def _keep_what_it_came_to(
    run: Run, published: bool, counts: Counts, state: RunState, records: RunRecords
) -> None:
    """A run nothing of which is pending any more changes no more: keep what it came to. A
    run Kafka took whose record did not say so says so now."""
    settled = run.summary is None and counts["pending"] == 0
    if not settled and (run.published or not published):
        return
    kept = replace(run, published=run.published or published)
    if not run.published:
        # Its record never said Kafka took it (S3 failed that write): it is listed now, once
        # it tells so, or as it settles.
        with contextlib.suppress(StorageUnavailable):
            records.runs.list_run(run.run_id)
    if settled:
        counted = {
            "pending": counts["pending"],
            "billed": counts["billed"],
            "failed": counts["failed"],
        }
        kept = replace(kept, summary=RunSummary(state, counted))
    with contextlib.suppress(StorageUnavailable):  # kept by the next look
        records.runs.save(kept)


def cancel(run: Run, records: RunRecords, at: str, by: str | None = None) -> tuple[RunStatus, bool]:
    """Cancel a run at ``at`` (``by`` a caller): its bills stay, every job still pending
    fails as ``cancelled``. Again on a cancelled run (or raced by another cancel), the same
    answer, the first cancel's time and caller, and True: it repeated an earlier cancel,
    and changed nothing. A run that is done is refused."""
    status = run_status(run, records, with_customers=False)
    if status["state"] == "done":
        raise InvalidRequest(
            f"run {run.run_id} is done: every customer has a bill or a failure; nothing to cancel",
            status=409,
        )
    with about_run(run.run_id):
        kept, mine = records.cancellations.cancel(run.run_id, at, by)
        log.info("billing run %s: cancelled at %s by %s", run.run_id, kept.at, kept.by)
    # The cancel changes the run's state, not its counts: no second look at them.
    status.pop("customers", None)
    cancelled: RunStatus = {**status, "state": "cancelled", "cancelledAt": kept.at}
    if kept.by is not None:
        cancelled["cancelledBy"] = kept.by
    return cancelled, not mine


def listed(run: Run, records: RunRecords) -> ListedRun:
    """A run as a list shows it: one read for a finished run; for another, a listing of
    its bills and one of its failures (a request per 1,000 each) and a read."""
    if run.summary is not None:
        kept, state = run.summary.counts, run.summary.state
        counts = Counts(pending=kept["pending"], billed=kept["billed"], failed=kept["failed"])
        return _listed(run, counts, state if state in RUN_STATES else "done")
    status = run_status(run, records, with_customers=False)
    return _listed(run, status["counts"], status["state"])
