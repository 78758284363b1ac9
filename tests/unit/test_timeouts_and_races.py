"""Unanswered questions, late answers and two writers of one job, on moto's S3."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from functions.bills import bill_name
from functions.context import AnswerPolicy, FunctionContext
from functions.engine_complete import engine_complete
from functions.engine_start import engine_start
from functions.messages import Answer, Question, WorkflowId
from functions.retry_unanswered import Tick, retry_unanswered
from functions.storage import JobStatus
from tests.unit.test_handlers import JOHN, workflow

WF = WorkflowId("run-1-1")
POLICY = AnswerPolicy(timeout_s=10, backoff=2, max_attempts=3)
# The store lists by the S3 server's own write times, so the tests' clock starts at now.
NOW = datetime.now(UTC)


@pytest.fixture(autouse=True)
def _fresh_now() -> None:
    global NOW
    NOW = datetime.now(UTC)


def at(context: FunctionContext, moment: datetime) -> FunctionContext:
    return replace(context, clock=lambda: moment, answers=POLICY)


def waiting(context: FunctionContext) -> list[tuple[str, int]]:
    far_future = NOW + timedelta(days=365)
    return [(a.workflow_id.text, a.attempts) for a in context.jobs.unanswered(far_future)]


def sweep(context: FunctionContext, seconds: float) -> list[str]:
    moment = NOW + timedelta(seconds=seconds)
    questions = retry_unanswered(Tick(moment), at(context, moment))
    asked = [o.message for o in questions]
    assert all(isinstance(q, Question) for q in asked)
    return [q.qa_identifier.text for q in asked if isinstance(q, Question)]


def test_a_question_waits_from_engine_start_until_its_answer(context: FunctionContext) -> None:
    engine_start(workflow("run-1-1"), at(context, NOW))
    assert waiting(context) == [("run-1-1", 1)]
    engine_complete(Answer(WF, JOHN), at(context, NOW))
    assert waiting(context) == []


def test_unanswered_questions_are_asked_again_with_backoff_then_fail(
    context: FunctionContext,
) -> None:
    engine_start(workflow("run-1-1"), at(context, NOW))
    assert sweep(context, 5) == []  # before the first timeout: nothing
    assert sweep(context, 11) == ["run-1-1"]
    assert waiting(context) == [("run-1-1", 2)]
    assert sweep(context, 11 + 15) == []  # the second question waits 20 s
    assert sweep(context, 11 + 21) == ["run-1-1"]
    assert waiting(context) == [("run-1-1", 3)]
    assert sweep(context, 11 + 21 + 39) == []  # the third has not waited its 40 s
    assert waiting(context) == [("run-1-1", 3)]
    assert sweep(context, 11 + 21 + 41) == []  # the last one went unanswered

    job = context.jobs.get(WF)
    assert job is not None
    assert job.status is JobStatus.FAILED
    assert job.failure is not None
    assert "no answer from the CRM to 3 question(s) about customer 1" in job.failure
    assert waiting(context) == []


def test_a_late_answer_still_bills_a_job_that_failed_for_want_of_one(
    s3: object, context: FunctionContext
) -> None:
    engine_start(workflow("run-1-1"), at(context, NOW))
    job = context.jobs.get(WF)
    assert job is not None
    assert context.jobs.update(job.failed("no answer"))

    engine_complete(Answer(WF, JOHN), at(context, NOW))
    billed = context.jobs.get(WF)
    assert billed is not None
    assert (billed.status, billed.failure) == (JobStatus.COMPLETED, None)
    assert billed.bill_name == bill_name("1", WF)


def test_an_answer_without_a_customer_never_undoes_a_bill(context: FunctionContext) -> None:
    engine_start(workflow("run-1-1"), at(context, NOW))
    engine_complete(Answer(WF, JOHN), at(context, NOW))
    engine_complete(Answer(WF, None, "customer '1' is not known"), at(context, NOW))
    job = context.jobs.get(WF)
    assert job is not None
    assert job.status is JobStatus.COMPLETED


def test_a_job_changed_since_it_was_read_is_not_overwritten(context: FunctionContext) -> None:
    engine_start(workflow("run-1-1"), at(context, NOW))
    read_by_one = context.jobs.get(WF)
    read_by_other = context.jobs.get(WF)
    assert read_by_one is not None
    assert read_by_other is not None
    assert context.jobs.update(read_by_one.completed("bill.txt"))
    assert not context.jobs.update(read_by_other.failed("too late"))
    stored = context.jobs.get(WF)
    assert stored is not None
    assert stored.status is JobStatus.COMPLETED


def test_a_record_left_by_a_closed_job_is_removed_without_asking(
    context: FunctionContext,
) -> None:
    engine_start(workflow("run-1-1"), at(context, NOW))
    job = context.jobs.get(WF)
    assert job is not None
    assert context.jobs.update(job.completed("bill.txt"))  # closed, record left behind
    assert sweep(context, 11) == []
    assert waiting(context) == []


def test_the_policy_waits_longer_after_each_question() -> None:
    assert [POLICY.wait_after(n).total_seconds() for n in (1, 2, 3)] == [10, 20, 40]
    assert POLICY.total_wait() == timedelta(seconds=70)
