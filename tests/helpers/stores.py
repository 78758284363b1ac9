"""What a test reads and writes in S3: its own buckets and topics, bills, jobs, outcomes."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import replace

from functions.storage import keys, records
from functions.storage.bucket import Bucket, in_parallel
from functions.wire.messages import Customer
from infra.provision import provision
from runtime.config import StackSettings
from runtime.services import Services, s3_client
from tests.helpers.kafka import topic_records, unprocessed
from tests.helpers.waiting import wait_for


def isolated(base: StackSettings) -> StackSettings:
    """StackSettings with topics, buckets and consumer groups of their own, provisioned."""
    tag = "t" + uuid.uuid4().hex[:10]
    settings = replace(
        base,
        workflow_topic=f"{tag}-workflow-queue",
        questions_topic=f"{tag}-questions-topic",
        answers_topic=f"{tag}-answers-topic",
        bills_bucket=f"{tag}-bills",
        jobs_bucket=f"{tag}-billing-jobs",
        customers_bucket=f"{tag}-crm-customers",
        consumer_group_prefix=f"{tag}-",
        storage_retry_s=5.0,
        metrics_port=0,  # a test's processes never take the port of a stack running beside
    )
    provision(settings)
    return settings


def bill(settings: StackSettings, name: str) -> bytes | None:
    """A bill's bytes as they are in S3, or None."""
    return Bucket(s3_client(settings), settings.bills_bucket).get_bytes(name)


def seed_customers(settings: StackSettings, count: int) -> list[str]:
    """``count`` synthetic customers in the CRM's store; their ids."""
    customers = [
        Customer(str(1000 + n), f"First{n}", f"Last{n}", "Utrecht", str(5000 + n), "1")
        for n in range(count)
    ]
    # The test's bucket is new: every id is free, so the customers go in at once.
    Services(settings).context.customers.put_all(customers)
    return [customer.customer_id for customer in customers]


def bill_names(settings: StackSettings) -> list[str]:
    return list(Bucket(s3_client(settings), settings.bills_bucket).names())


def job_outcomes(settings: StackSettings) -> dict[str, list[str]]:
    """Workflow keys by outcome: waiting ("pending"), "failed", and billed ("completed")."""
    client = s3_client(settings)
    jobs = Bucket(client, settings.jobs_bucket)
    bills = Bucket(client, settings.bills_bucket)
    # Each bill says in its metadata which workflow wrote it.
    billed = [
        (metadata or {}).get("workflow-id", "?")
        for metadata in in_parallel(bills.metadata, list(bills.names()))
    ]
    failed = [keys.workflow_of_failure(key) for key in jobs.names(keys.FAILED)]
    # A job waits while a batch lists it and it has neither a bill nor a failure.
    listed = {
        job.workflow_id.key
        for batch in jobs.get_json_all(list(jobs.names(keys.WAITING)))
        for job in records.to_jobs(batch or {"jobs": []})
    }
    pending = sorted(listed - set(billed) - set(failed))
    return {"pending": pending, "completed": billed, "failed": failed}


def closed(settings: StackSettings, count: int) -> Callable[[], dict[str, list[str]] | None]:
    """A probe: the job outcomes once ``count`` jobs are billed or failed."""

    def probe() -> dict[str, list[str]] | None:
        # Two listings tell whether ``count`` can be closed yet; only then each job is read.
        failures = Bucket(s3_client(settings), settings.jobs_bucket).names(keys.FAILED)
        if len(bill_names(settings)) + len(list(failures)) < count:
            return None
        outcomes = job_outcomes(settings)
        done = len(outcomes["completed"]) + len(outcomes["failed"])
        return outcomes if done >= count and not outcomes["pending"] else None

    return probe


def dead_letters(settings: StackSettings) -> int:
    """How many records the three dead-letter topics hold."""
    sources = (settings.workflow_topic, settings.questions_topic, settings.answers_topic)
    return sum(len(topic_records(settings, settings.dead_letter_topic(t))) for t in sources)


def assert_billed_exactly_once(
    settings: StackSettings,
    outcomes: dict[str, list[str]],
    bills: list[str],
    workflows: Iterable[str] | None = None,
) -> None:
    """Each customer billed exactly once: the bills are ``bills`` and no other, a bill for
    each workflow (``workflows``, when the test knows them), none failed, none waiting, and
    the dead-letter topics empty."""
    assert sorted(bill_names(settings)) == sorted(bills)
    completed = sorted(outcomes["completed"])
    if workflows is not None:
        assert completed == sorted(workflows)
    assert len(completed) == len(bills), "a workflow billed twice, or one bill for two"
    assert outcomes["failed"] == []
    assert outcomes["pending"] == []
    # A dead letter is written before its record is committed: none can come after this.
    wait_for("every record of the functions' topics done", lambda: unprocessed(settings) == 0)
    assert dead_letters(settings) == 0
