"""Billing runs: their ids, their workflows, and how far each run has got.

A run's workflows are ``<run id>-<n>``, so the run of any workflow can be read off its
id, and everything a run leaves in S3 shares a prefix: its bills lie under
``<run id>/``, its waiting jobs under ``waiting/<run id>/``, its failures under
``failed/<run id>-``. A run's status therefore costs three listings (one request per
1,000 objects), one read per failure and one per batch of waiting jobs not read before,
whatever else the buckets hold.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from functions.context import utc_now
from functions.errors import InvalidRequest
from functions.identifiers import RunId, WorkflowId
from functions.log_context import about_run
from functions.messages import BILL_GENERATION, LINEAGE, WorkflowMessage
from functions.run_answers import (
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
    JobFailures,
    Run,
    RunCancellations,
    RunProgress,
    RunStore,
    RunSummary,
)
from functions.storage.keys import bill_name, bills_of_run, workflow_prefix

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
        return summary


def plan(run: Run) -> BillingRun:
    """One workflow per customer; ids are ``<run id>-<n>``, unique without any clock. A
    retry's workflows name the run its lineage began with: their bills go under it."""
    lineage = {LINEAGE: run.lineage} if run.lineage is not None else {}
    workflows = tuple(
        WorkflowMessage(
            workflow_type=BILL_GENERATION,
            workflow_id=WorkflowId(f"{run.run_id}-{number}"),
            create_time=run.create_time,
            payload={"customerIdentifier": customer_id, **lineage},
        )
        for number, customer_id in enumerate(run.customer_ids, start=1)
    )
    return BillingRun(run.run_id, workflows, run.lineage)


def bill_names(accepted: Mapping[str, Any]) -> list[str]:
    """The names the bills of a run will have, read off the coordinator's 202 (the
    ``BillingRun.summary()`` a client received)."""
    lineage = accepted.get("lineage")
    return [
        bill_name(w["customerIdentifier"], WorkflowId(w["workflowId"]), lineage)
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
    """Where the coordinator reads a run and how far it is."""

    runs: RunStore
    progress: RunProgress
    failures: JobFailures
    bills: BillStore
    cancellations: RunCancellations


def run_status(
    run: Run,
    records: RunRecords,
    state: CustomerState | None = None,
    with_customers: bool = True,
    page: CustomerPage | None = None,
) -> RunStatus:
    """Counts of the run's workflows by state, the run's own state, and each customer's
    (only those in ``state``, if given; none without ``with_customers``; those of ``page``
    if given). A workflow that failed counts as failed, whatever bill its lineage holds
    for the customer (another run's, or its own written as it failed): that way a run's
    counts never change once nothing of it is pending, and a retry holds its failures."""
    page = page or CustomerPage()
    billed = set(records.bills.names(bills_of_run(run.bills_folder)))
    failed_keys = records.failures.workflow_keys(workflow_prefix(run.run_id))
    # Whether a pending customer's question was asked costs a read of each batch object.
    waiting = records.progress.asked_keys(run.run_id) if with_customers else set()
    counts = Counts(pending=0, billed=0, failed=0)
    customers: list[CustomerOfRun] = []
    shown_failures = []
    last_shown, more = 0, False
    for number, workflow in enumerate(plan(run).workflows, start=1):
        customer_id = workflow.customer_identifier
        entry = CustomerOfRun(
            customerIdentifier=customer_id, workflowId=workflow.workflow_id.wire, state="pending"
        )
        name = bill_name(customer_id, workflow.workflow_id, run.lineage)
        key = workflow.workflow_id.key
        if key in failed_keys:
            entry["state"] = "failed"
        elif name in billed:
            entry["state"], entry["bill"] = "billed", name
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
        if entry["state"] == "failed":
            shown_failures.append((entry, workflow.workflow_id))
    # Read only for the failures shown: one GET each, a few at a time.
    shown = records.failures.get_all([workflow_id for _, workflow_id in shown_failures])
    for (entry, _), failure in zip(shown_failures, shown, strict=True):
        entry["reason"] = failure.reason if failure else "the failure record vanished"
    cancelled_at = records.cancellations.cancelled_at(run.run_id)
    status = _described(
        run,
        RunStatus(
            runId=run.run_id,
            createTime=run.create_time,
            total=len(run.customer_ids),
            counts=counts,
            state=_state(run, counts, cancelled_at),
            published=run.published,
            done=counts["pending"] == 0 and run.published,
            retries=records.runs.retries(run.run_id),
            customers=customers,
        ),
    )
    if page.limit < len(run.customer_ids):
        status["next"] = last_shown if more else None
    if cancelled_at is not None:
        status["cancelledAt"] = cancelled_at
    _keep_summary(run, counts, status["state"], records)
    return status


def _state(run: Run, counts: Counts, cancelled_at: str | None) -> RunState:
    if cancelled_at is not None:
        return "cancelled"
    return "done" if counts["pending"] == 0 and run.published else "running"


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
    started it, the run its lineage began with."""
    if run.retry_of is not None:
        described["retryOf"] = run.retry_of
    if run.scheduled_for is not None:
        described["scheduledFor"] = run.scheduled_for
    if run.lineage is not None:
        described["lineage"] = run.lineage
    return described


def _keep_summary(run: Run, counts: Counts, state: RunState, records: RunRecords) -> None:
    """A run nothing of which is pending any more changes no more: keep what it came to."""
    if run.summary is None and run.published and counts["pending"] == 0:
        kept = {
            "pending": counts["pending"],
            "billed": counts["billed"],
            "failed": counts["failed"],
        }
        records.runs.save(replace(run, summary=RunSummary(state, kept)))


def cancel(run: Run, records: RunRecords, at: str) -> RunStatus:
    """Cancel a run at ``at``: its bills stay, every job still pending fails as
    ``cancelled``. Again on a cancelled run, the same answer; a run that is done is refused."""
    status = run_status(run, records, with_customers=False)
    if status["state"] == "done":
        raise InvalidRequest(
            f"run {run.run_id} is done: every customer has a bill or a failure; nothing to cancel",
            status=409,
        )
    with about_run(run.run_id):
        at = records.cancellations.cancel(run.run_id, at)
        log.info("billing run %s: cancelled at %s", run.run_id, at)
    # The cancel changes the run's state, not its counts: no second look at them.
    status.pop("customers", None)
    return {**status, "state": "cancelled", "cancelledAt": at}


def listed(run: Run, records: RunRecords) -> ListedRun:
    """A run as a list shows it: one read for a finished run; for another, a listing of
    its bills and one of its failures (a request per 1,000 each) and a read."""
    if run.summary is not None:
        kept, state = run.summary.counts, run.summary.state
        counts = Counts(pending=kept["pending"], billed=kept["billed"], failed=kept["failed"])
        return _listed(run, counts, state if state in RUN_STATES else "done")
    status = run_status(run, records, with_customers=False)
    return _listed(run, status["counts"], status["state"])
