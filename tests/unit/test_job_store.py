"""The jobs by role: a batch's jobs in one object, a bill in one request, the sweep
clearing what no longer waits, a run's progress, the move of legacy jobs. Their buckets are
in memory, but for the tests that count S3's requests (``s3_context``, on moto)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING

import pytest
from prometheus_client import REGISTRY

from functions.context import FunctionContext
from functions.storage import Job, job_index, keys, records
from functions.storage.bucket import Bucket
from functions.storage.keys import bill_name
from functions.storage.memory_bucket import MemoryBuckets
from functions.storage.migrations import adopt_legacy_pending_jobs
from functions.storage.objects import Objects
from functions.storage.s3_run_progress import S3RunProgress
from functions.triggered.engine_complete import engine_complete
from functions.triggered.engine_start import engine_start
from functions.wire.identifiers import WorkflowId
from functions.wire.messages import Answer
from runtime.config import FunctionSettings
from runtime.services import Services
from runtime.triggers import BY_FUNCTION
from tests.unit.harness import JOHN, NOW, workflow

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

RUN = "run-20261129T120000-0000000a"
OTHER = "run-20261129T120000-0000000b"
OLD = "run-20261128T120000-0000000c"
OPERATIONS = ("PutObject", "GetObject", "HeadObject", "ListObjectsV2", "DeleteObjects")


def requests() -> dict[str, float]:
    sample = REGISTRY.get_sample_value
    return {op: sample("billing_s3_requests_total", {"operation": op}) or 0 for op in OPERATIONS}


def spent(before: dict[str, float]) -> dict[str, float]:
    return {op: n - before[op] for op, n in requests().items() if n != before[op]}


def another_process(
    buckets: Callable[[str], Objects], settings: FunctionSettings
) -> FunctionContext:
    """The stores of another function's process, on the same buckets."""
    return Services(settings, buckets=buckets).context


@contextlib.contextmanager
def batch_of(function: str, context: FunctionContext) -> Iterator[None]:
    """As the runtime calls ``function`` on a batch: within its stores' batch scopes."""
    with contextlib.ExitStack() as scopes:
        for store in BY_FUNCTION[function].per_batch(context):
            scopes.enter_context(store.batch())
        yield


def start_batch(context: FunctionContext, workflow_ids: list[str]) -> None:
    with batch_of("engine-start", context):
        for n, workflow_id in enumerate(workflow_ids, start=1):
            engine_start(workflow(workflow_id, str(n)), context)


def answer_batch(context: FunctionContext, answers: list[Answer]) -> None:
    with batch_of("engine-complete", context):
        for answer in answers:
            engine_complete(answer, context)


def test_a_batch_of_jobs_is_one_write_and_each_bill_one_request(
    s3_context: FunctionContext,
) -> None:
    ids = [f"{RUN}-{n}" for n in range(1, 41)]
    before = requests()
    start_batch(s3_context, ids)
    assert spent(before) == {"HeadObject": 1, "PutObject": 1}, "whether cancelled, the jobs"

    answers = [
        Answer(WorkflowId(wid), replace(JOHN, customer_id=str(n)))
        for n, wid in enumerate(ids, start=1)
    ]
    before = requests()
    answer_batch(s3_context, answers)
    # The batch read once (it is named after its first job), one look whether the run was
    # cancelled, then one create per bill.
    assert spent(before) == {"GetObject": 1, "HeadObject": 1, "PutObject": 40}
    assert len(list(s3_context.bills.names(f"{RUN}/"))) == 40


def test_answers_in_flight_together_list_their_run_once(s3_context: FunctionContext) -> None:
    ids = [f"{RUN}-{n}" for n in range(1, 34)]
    start_batch(s3_context, ids)
    before = requests()
    with ThreadPoolExecutor(32) as pool:  # all but the first, whose name the batch has
        list(pool.map(lambda wid: s3_context.answer_jobs.find(WorkflowId(wid)), ids[1:]))
    # one look for a batch named after the first answer's job; the listing; the batch
    assert spent(before) == {"GetObject": 2, "ListObjectsV2": 1}


def test_an_answer_finds_its_job_written_after_the_run_was_first_read(
    context: FunctionContext,
) -> None:
    start_batch(context, [f"{RUN}-1"])
    engine_complete(Answer(WorkflowId(f"{RUN}-1"), JOHN), context)
    start_batch(context, [f"{RUN}-2"])
    engine_complete(Answer(WorkflowId(f"{RUN}-2"), replace(JOHN, customer_id="1")), context)
    assert sorted(context.bills.names(f"{RUN}/")) == [f"{RUN}/customer-bill-1.txt"]
    assert context.answer_jobs.find(WorkflowId(f"{RUN}-2")) is None, "billed: it waits no more"


def test_an_answer_no_batch_asked_for_writes_nothing(context: FunctionContext) -> None:
    start_batch(context, [f"{RUN}-1"])
    engine_complete(Answer(WorkflowId(f"{RUN}-9"), JOHN), context)
    engine_complete(Answer(WorkflowId("lab-7"), JOHN), context)
    assert list(context.bills.names()) == []


def test_a_late_answer_to_a_job_the_sweep_failed_writes_no_bill(
    buckets: MemoryBuckets, unit_settings: FunctionSettings, context: FunctionContext
) -> None:
    start_batch(context, [f"{RUN}-1"])
    assert context.answer_jobs.find(WorkflowId(f"{RUN}-1")) is not None  # engine-complete read it
    sweep = another_process(buckets, unit_settings)
    job = context.answer_jobs.find(WorkflowId(f"{RUN}-1"))
    assert job is not None
    sweep.failures.record(job, "no answer from the CRM to 5 question(s)", "t")

    late = replace(context, clock=lambda: NOW + context.answers.total_wait())
    engine_complete(Answer(WorkflowId(f"{RUN}-1"), JOHN), late)
    assert list(context.bills.names()) == []
    failure = context.failures.get(WorkflowId(f"{RUN}-1"))
    assert failure is not None and failure.reason.startswith("no answer")


def test_the_answer_to_a_lone_question_finds_its_job_in_one_read(
    s3_context: FunctionContext,
) -> None:
    start_batch(s3_context, [f"{RUN}-1"])
    before = requests()
    answer_batch(s3_context, [Answer(WorkflowId(f"{RUN}-1"), JOHN)])
    assert spent(before) == {"GetObject": 1, "HeadObject": 1, "PutObject": 1}


def test_a_batch_redelivered_with_the_same_first_job_gets_a_name_of_its_own(
    buckets: MemoryBuckets, unit_settings: FunctionSettings, context: FunctionContext
) -> None:
    start_batch(context, [f"{RUN}-1", f"{RUN}-2"])
    with context.new_jobs.batch():
        engine_start(workflow(f"{RUN}-1", "1"), context)
        engine_start(workflow(f"{RUN}-3", "3"), context)
    assert len(list(buckets(unit_settings.jobs_bucket).names(f"waiting/{RUN}/"))) == 2
    assert context.answer_jobs.find(WorkflowId(f"{RUN}-3")) is not None


def test_an_answer_held_up_by_a_backlog_does_not_look_for_a_failure(
    s3_context: FunctionContext,
) -> None:
    """The sweep fails a job only once every wait it allows is over (15.5 min here)."""
    start_batch(s3_context, [f"{RUN}-1"])
    s3_context.answer_jobs.find(WorkflowId(f"{RUN}-1"))
    before = requests()
    after_a_backlog = replace(s3_context, clock=lambda: NOW + timedelta(minutes=5))
    answer_batch(after_a_backlog, [Answer(WorkflowId(f"{RUN}-1"), JOHN)])
    assert spent(before) == {"HeadObject": 1, "PutObject": 1}, "the cancel's look, the bill"


def test_a_workflow_id_reused_for_another_customer_bills_the_answered_one(
    context: FunctionContext,
) -> None:
    start_batch(context, [f"{RUN}-1"])  # customer 1
    with context.new_jobs.batch():
        engine_start(workflow(f"{RUN}-1", "2"), context)
    mary = replace(JOHN, customer_id="2", first_name="Mary")
    engine_complete(Answer(WorkflowId(f"{RUN}-1"), mary), context)
    assert list(context.bills.names()) == [bill_name("2", WorkflowId(f"{RUN}-1"))]


def test_the_sweep_clears_a_batch_once_each_job_has_a_bill_or_a_failure(
    buckets: MemoryBuckets, unit_settings: FunctionSettings, context: FunctionContext
) -> None:
    start_batch(context, [f"{RUN}-1", f"{RUN}-2", f"{RUN}-3"])
    jobs = buckets(unit_settings.jobs_bucket)
    sweep = another_process(buckets, unit_settings).sweep
    later = NOW + timedelta(days=1)
    engine_complete(Answer(WorkflowId(f"{RUN}-1"), JOHN), context)
    engine_complete(Answer(WorkflowId(f"{RUN}-2"), None, "customer '2' is not known"), context)
    assert [job.workflow_id.text for job in sweep.waiting(later)] == [f"{RUN}-3"]
    assert len(list(jobs.names("waiting/"))) == 1, "the third job still waits"

    engine_complete(Answer(WorkflowId(f"{RUN}-3"), replace(JOHN, customer_id="3")), context)
    assert list(sweep.waiting(later)) == []
    assert list(jobs.names("waiting/")) == []


def test_a_batch_the_sweep_cleared_away_is_forgotten_by_every_reader(
    buckets: MemoryBuckets, unit_settings: FunctionSettings, context: FunctionContext
) -> None:
    start_batch(context, [f"{RUN}-1", f"{RUN}-2"])
    status = S3RunProgress(buckets(unit_settings.jobs_bucket))  # the coordinator's
    assert status.asked_keys(RUN) == {f"{RUN}-1", f"{RUN}-2"}
    for n in (1, 2):
        engine_complete(
            Answer(WorkflowId(f"{RUN}-{n}"), replace(JOHN, customer_id=str(n))), context
        )
    assert (
        list(another_process(buckets, unit_settings).sweep.waiting(NOW + timedelta(days=1))) == []
    )
    assert status.asked_keys(RUN) == set()


def test_jobs_an_earlier_version_kept_one_object_each_are_moved_and_asked_again(
    buckets: MemoryBuckets, unit_settings: FunctionSettings, context: FunctionContext
) -> None:
    jobs = buckets(unit_settings.jobs_bucket)
    at = "2021-03-23T18:21:47.000Z"
    legacy = Job(WorkflowId(f"{OLD}-1"), "1", at, at)
    jobs.put_json(keys.legacy_pending_job(legacy.workflow_id.key), records.job(legacy))
    sweep = another_process(buckets, unit_settings).sweep
    assert list(sweep.waiting(NOW + timedelta(days=1))) == [], "a sweep moves nothing"
    assert adopt_legacy_pending_jobs(jobs, context.new_jobs) == 1
    assert adopt_legacy_pending_jobs(jobs, context.new_jobs) == 0
    assert list(sweep.waiting(NOW + timedelta(days=1))) == [legacy]
    assert list(jobs.names(keys.LEGACY_PENDING)) == []
    engine_complete(Answer(WorkflowId(f"{OLD}-1"), JOHN), context)
    assert list(context.bills.names()) == [bill_name("1", WorkflowId(f"{OLD}-1"))]


@pytest.mark.parametrize("limit", ["MAX_OPEN_JOBS", "MAX_RUNS"])
def test_past_its_limit_the_store_forgets_the_run_read_least_recently(
    s3_context: FunctionContext, monkeypatch: pytest.MonkeyPatch, limit: str
) -> None:
    monkeypatch.setattr(job_index, limit, {"MAX_OPEN_JOBS": 3, "MAX_RUNS": 1}[limit])
    start_batch(s3_context, [f"{RUN}-1", f"{RUN}-2", f"{RUN}-3"])
    start_batch(s3_context, [f"{OTHER}-1", f"{OTHER}-2"])
    assert s3_context.answer_jobs.find(WorkflowId(f"{RUN}-1")) is not None
    assert (
        s3_context.answer_jobs.find(WorkflowId(f"{OTHER}-1")) is not None
    )  # the first run is forgotten
    before = requests()
    assert s3_context.answer_jobs.find(WorkflowId(f"{RUN}-2")) is not None
    assert spent(before) == {"ListObjectsV2": 1, "GetObject": 2}, "read again when needed"


def test_billed_jobs_no_longer_count_toward_the_limit(
    s3_context: FunctionContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(job_index, "MAX_OPEN_JOBS", 3)
    ids = [f"{RUN}-{n}" for n in range(1, 4)]
    start_batch(s3_context, ids)
    for n, workflow_id in enumerate(ids, start=1):
        engine_complete(
            Answer(WorkflowId(workflow_id), replace(JOHN, customer_id=str(n))), s3_context
        )
    start_batch(s3_context, [f"{OTHER}-1", f"{OTHER}-2"])
    start_batch(s3_context, [f"{OLD}-1"])
    assert s3_context.answer_jobs.find(WorkflowId(f"{OTHER}-1")) is not None
    assert s3_context.answer_jobs.find(WorkflowId(f"{OLD}-1")) is not None
    before = requests()
    # three jobs open in all: the second run is still known
    assert s3_context.answer_jobs.find(WorkflowId(f"{OTHER}-2")) is not None
    assert spent(before) == {}


def test_a_batch_record_lists_its_jobs_as_written(
    buckets: MemoryBuckets, unit_settings: FunctionSettings, context: FunctionContext
) -> None:
    start_batch(context, [f"{RUN}-1", f"{RUN}-2"])
    jobs = buckets(unit_settings.jobs_bucket)
    (key,) = jobs.names(f"waiting/{RUN}/")
    stored = json.loads(jobs.get_bytes(key) or b"")
    assert [entry["workflowId"] for entry in stored["jobs"]] == [f"{RUN}-1", f"{RUN}-2"]
    assert [entry["customerId"] for entry in stored["jobs"]] == ["1", "2"]


def test_once_a_run_is_nearly_done_the_sweep_reads_the_few_bills_left(
    s3: S3Client, unit_settings: FunctionSettings, s3_context: FunctionContext
) -> None:
    ids = [f"{RUN}-{n}" for n in range(1, 31)]
    start_batch(s3_context, ids)
    for n, workflow_id in enumerate(ids[:-1], start=1):
        engine_complete(
            Answer(WorkflowId(workflow_id), replace(JOHN, customer_id=str(n))), s3_context
        )
    sweep = another_process(partial(Bucket, s3), unit_settings).sweep
    later = NOW + timedelta(days=1)
    before = requests()
    assert [job.workflow_id.text for job in sweep.waiting(later)] == [ids[-1]]
    # waiting jobs, questions asked again, the run's bills, its failures; the batch read
    assert spent(before) == {"ListObjectsV2": 4, "GetObject": 1}
    before = requests()
    assert [job.workflow_id.text for job in sweep.waiting(later)] == [ids[-1]]
    assert spent(before) == {"ListObjectsV2": 3, "HeadObject": 1}
