"""The JSON body of each record the S3 stores keep, and how it is read back.

The shapes are the stored format: a change here must still read what an earlier version
wrote (the objects outlive the processes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from functions.storage.base import (
    Failure,
    Job,
)
from functions.storage.run_records import (
    IdempotencyRecord,
    RetrySlot,
    Run,
    RunSummary,
    TickPage,
)
from functions.wire.identifiers import WorkflowId

Record = dict[str, Any]


def _given(**fields: Any) -> Record:
    """The fields that have a value: one left out reads back as None (``record.get``)."""
    return {name: value for name, value in fields.items() if value is not None}


def job(waiting: Job) -> Record:
    """A job waiting for its first answer: one entry of a batch's record, and on its own
    ``pending/<workflow>.json`` as versions before the batches kept it."""
    return {
        "workflowId": waiting.workflow_id.wire,
        "customerId": waiting.customer_id,
        "createdAt": waiting.created_at,
        "askedAt": waiting.asked_at,
        "attempts": waiting.attempts,
        **_given(trace=waiting.trace, lineage=waiting.lineage, billingPeriod=waiting.period),
    }


def to_job(record: Mapping[str, Any]) -> Job:
    return Job(
        workflow_id=WorkflowId(record["workflowId"]),
        customer_id=record["customerId"],
        created_at=record["createdAt"],
        asked_at=record["askedAt"],
        attempts=int(record["attempts"]),
        trace=record.get("trace"),
        lineage=record.get("lineage"),
        period=record.get("billingPeriod"),
    )


def batch(created: Sequence[Job]) -> Record:
    """``waiting/<run>/<batch>.json``: the jobs whose first question one batch asked."""
    return {"jobs": [job(each) for each in created]}


def to_jobs(record: Mapping[str, Any]) -> list[Job]:
    return [to_job(entry) for entry in record["jobs"]]


def question(asked: Job) -> Record:
    """``asked/<workflow>/<n>.json``: question ``n`` asked again, and when."""
    return {"attempts": asked.attempts, "askedAt": asked.asked_at}


def to_asked(waiting: Job, record: Mapping[str, Any]) -> Job:
    """``waiting`` as its latest question asked again left it."""
    return replace(waiting, attempts=int(record["attempts"]), asked_at=record["askedAt"])


def failure(failed: Job, reason: str, at: str) -> Record:
    """``failed/<workflow>.json``: why a job ended without a bill."""
    return {
        "workflowId": failed.workflow_id.wire,
        "customerId": failed.customer_id,
        "createdAt": failed.created_at,
        "failure": reason,
        "failedAt": at,
    }


def to_failure(record: Mapping[str, Any]) -> Failure:
    return Failure(
        WorkflowId(record["workflowId"]),
        record["customerId"],
        record["failure"],
        record["failedAt"],
    )


def run(planned: Run) -> Record:
    """``runs/<run id>.json``; ``retryOf``, ``scheduledFor``, ``lineage``, ``billingPeriod``,
    ``billedBefore`` and ``summary`` only when there are."""
    record: Record = {
        "runId": planned.run_id,
        "createTime": planned.create_time,
        "customerIdentifiers": list(planned.customer_ids),
        "published": planned.published,
        **_given(
            retryOf=planned.retry_of,
            scheduledFor=planned.scheduled_for,
            lineage=planned.lineage,
            billingPeriod=planned.billing_period,
            startedBy=planned.started_by,
        ),
    }
    if planned.billed_before:
        ordered = [c for c in planned.customer_ids if c in planned.billed_before]
        record["billedBefore"] = ordered
    if planned.summary is not None:
        record["summary"] = {"state": planned.summary.state, "counts": dict(planned.summary.counts)}
    return record


def to_run(record: Mapping[str, Any]) -> Run:
    summary = record.get("summary")
    return Run(
        run_id=record["runId"],
        create_time=record["createTime"],
        customer_ids=tuple(record["customerIdentifiers"]),
        published=bool(record.get("published")),
        retry_of=record.get("retryOf"),
        scheduled_for=record.get("scheduledFor"),
        summary=RunSummary(summary["state"], summary["counts"]) if summary else None,
        lineage=record.get("lineage"),
        billing_period=record.get("billingPeriod"),
        billed_before=frozenset(record.get("billedBefore", ())),
        started_by=record.get("startedBy"),
    )


def retry_slot(slot: RetrySlot) -> Record:
    """``retry-slots/<run id>/<n>.json``."""
    return {
        "retry": slot.number,
        "runId": slot.run_id,
        "customerIdentifiers": list(slot.customer_ids),
    }


def to_retry_slot(record: Mapping[str, Any]) -> RetrySlot:
    return RetrySlot(int(record["retry"]), record["runId"], tuple(record["customerIdentifiers"]))


def tick_page(tick: str, page: TickPage) -> Record:
    """``ticks/<tick>/<n>.json``."""
    return {
        "tick": tick,
        "page": page.number,
        "runId": page.run_id,
        "customerIdentifiers": list(page.customer_ids),
        "nextAfter": page.next_after,
        **({"billingPeriod": page.billing_period} if page.billing_period else {}),
    }


def to_tick_page(record: Mapping[str, Any]) -> TickPage:
    return TickPage(
        int(record["page"]),
        record["runId"],
        tuple(record["customerIdentifiers"]),
        record["nextAfter"],
        record.get("billingPeriod"),
    )


def claim(claimed: IdempotencyRecord) -> Record:
    """``idempotency/<digest of the key>.json``: the run an Idempotency-Key started."""
    return {"runId": claimed.run_id, "requestDigest": claimed.request_digest}


def to_claim(record: Mapping[str, Any]) -> IdempotencyRecord:
    return IdempotencyRecord(record["runId"], record["requestDigest"])
