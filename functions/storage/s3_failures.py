"""Why jobs ended without a bill, on S3: ``failed/<workflow>.json``, one create each, the
first reason staying; and for a job of a billing period, its customer's latest failure in
the period, ``period-failures/<period>/<customer>.json``, for the period's books."""

from __future__ import annotations

from collections.abc import Sequence

from functions.storage import keys, records
from functions.storage.base import Failure, Job, JobFailures
from functions.storage.objects import Objects
from functions.wire.identifiers import WorkflowId


class S3JobFailures(JobFailures):
    def __init__(self, bucket: Objects) -> None:
        self.bucket = bucket

    def record(self, job: Job, reason: str, at: str) -> None:
        failure = records.failure(job, reason, at)
        if job.period is not None:
            # First: the job ends with the create below, so a write that fails here leaves
            # it waiting, to be failed again, and the period's books never miss it.
            self.bucket.put_json(keys.period_failure(job.period, job.customer_id), failure)
        key = keys.failed_job(job.workflow_id.key)
        self.bucket.put_json(key, failure, only_if_absent=True)
        asked_again = [
            keys.asked_question(job.workflow_id.key, n) for n in range(2, job.attempts + 1)
        ]
        if asked_again:
            self.bucket.delete_many(asked_again)

    def get(self, workflow_id: WorkflowId) -> Failure | None:
        record = self.bucket.get_json(keys.failed_job(workflow_id.key))
        return None if record is None else records.to_failure(record)

    def get_all(self, workflow_ids: Sequence[WorkflowId]) -> list[Failure | None]:
        stored = self.bucket.get_json_all([keys.failed_job(w.key) for w in workflow_ids])
        return [None if record is None else records.to_failure(record) for record in stored]

    def exists(self, workflow_id: WorkflowId) -> bool:
        return self.bucket.metadata(keys.failed_job(workflow_id.key)) is not None

    def workflow_keys(self, workflow_prefix: str) -> set[str]:
        listed = self.bucket.names(keys.FAILED + workflow_prefix)
        return {keys.workflow_of_failure(key) for key in listed}

    def failed_in_period(self, period: str) -> set[str]:
        listed = self.bucket.names(keys.period_failures(period))
        return {keys.customer_of_period_failure(key) for key in listed}

    def in_period(self, period: str, customer_ids: Sequence[str]) -> list[Failure | None]:
        stored = self.bucket.get_json_all([keys.period_failure(period, c) for c in customer_ids])
        return [None if record is None else records.to_failure(record) for record in stored]
