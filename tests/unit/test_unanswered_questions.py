"""Unanswered questions, late answers and two writers of one job, the buckets in memory; a
retry whose customers the first run's late answers billed is neither asked again nor failed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from functions.context import AnswerPolicy, FunctionContext, iso_millis
from functions.storage import CANCELLED
from functions.storage.keys import bill_name
from functions.triggered.engine_complete import engine_complete
from functions.triggered.engine_start import engine_start
from functions.triggered.retry_unanswered import Tick, retry_unanswered
from functions.wire.identifiers import WorkflowId
from functions.wire.messages import Answer, Question
from tests.unit.harness import JOHN, Harness, client, start_run, workflow, write_bill
from tests.unit.runs_by_hand import fail, ids_of, published_workflows

WF = WorkflowId("run-1-1")
POLICY = AnswerPolicy(timeout_s=10, backoff=2, max_attempts=3)


class Scene:
    """A context whose clock starts now: the store lists by the S3 server's write times."""

    def __init__(self, context: FunctionContext) -> None:
        self.start = datetime.now(UTC)
        self.context = context

    def at(self, seconds: float) -> FunctionContext:
        moment = self.start + timedelta(seconds=seconds)
        return replace(self.context, clock=lambda: moment, answers=POLICY)

    def sweep(self, seconds: float, backlog: bool = False) -> list[str]:
        context = self.at(seconds)
        questions = retry_unanswered(Tick(context.clock(), backlog), context)
        asked = [o.message for o in questions]
        assert all(isinstance(q, Question) for q in asked)
        return [q.qa_identifier.text for q in asked if isinstance(q, Question)]

    def waiting(self) -> list[tuple[str, int]]:
        in_a_year = self.start + timedelta(days=365)
        return [(j.workflow_id.text, j.attempts) for j in self.context.sweep.waiting(in_a_year)]


def test_a_job_waits_from_engine_start_until_its_answer(context: FunctionContext) -> None:
    scene = Scene(context)
    engine_start(workflow("run-1-1"), scene.at(0))
    assert scene.waiting() == [("run-1-1", 1)]
    engine_complete(Answer(WF, JOHN), scene.at(1))
    assert scene.waiting() == []


def test_unanswered_questions_are_asked_again_with_backoff_then_fail(
    context: FunctionContext,
) -> None:
    scene = Scene(context)
    engine_start(workflow("run-1-1"), scene.at(0))
    assert scene.sweep(5) == []  # before the first timeout: nothing
    assert scene.sweep(11) == ["run-1-1"]
    assert scene.waiting() == [("run-1-1", 2)]
    assert scene.sweep(11 + 15) == []  # the second question waits 20 s
    assert scene.sweep(11 + 21) == ["run-1-1"]
    assert scene.waiting() == [("run-1-1", 3)]
    assert scene.sweep(11 + 21 + 39) == []  # the third has not waited its 40 s
    assert scene.waiting() == [("run-1-1", 3)]
    assert scene.sweep(11 + 21 + 41) == []  # the last one went unanswered

    assert scene.waiting() == []
    failure = context.failures.get(WF)
    assert failure is not None
    assert failure.reason == "no answer from the CRM to 3 question(s) about customer 1 over 73s"
    assert failure.failed_at == iso_millis(scene.start + timedelta(seconds=73))


def test_nothing_is_overdue_while_questions_or_answers_are_still_in_line(
    context: FunctionContext,
) -> None:
    scene = Scene(context)
    engine_start(workflow("run-1-1"), scene.at(0))
    assert scene.sweep(500, backlog=True) == []
    assert scene.waiting() == [("run-1-1", 1)], "a job in line is neither asked again nor failed"
    assert scene.sweep(501) == ["run-1-1"]  # the line cleared and no answer came


def test_an_answer_after_the_job_failed_changes_nothing(context: FunctionContext) -> None:
    scene = Scene(context)
    engine_start(workflow("run-1-1"), scene.at(0))
    job = context.answer_jobs.find(WF)
    assert job is not None
    context.failures.record(job, "no answer", "2026-11-27T12:00:00.000Z")
    context.answer_jobs.close(job.workflow_id)  # as engine-complete does when it fails one
    engine_complete(Answer(WF, JOHN), scene.at(1))
    assert context.bills.billed_at(bill_name("1", WF)) is None
    failure = context.failures.get(WF)
    assert failure is not None
    assert failure.reason == "no answer"


def test_a_question_answered_while_the_sweep_read_it_is_not_asked_again(
    context: FunctionContext,
) -> None:
    scene = Scene(context)
    engine_start(workflow("run-1-1"), scene.at(0))
    read_by_sweep = context.answer_jobs.find(WF)
    assert read_by_sweep is not None
    engine_complete(Answer(WF, JOHN), scene.at(1))  # billed meanwhile
    assert not context.sweep.ask_again(read_by_sweep.asked_again("2026-11-27T12:00:00.000Z"))
    assert scene.waiting() == [], "a billed job must not come back as waiting"


def test_a_job_asked_again_by_one_sweep_is_not_asked_again_by_another(
    context: FunctionContext,
) -> None:
    scene = Scene(context)
    engine_start(workflow("run-1-1"), scene.at(0))
    first = context.answer_jobs.find(WF)
    second = context.answer_jobs.find(WF)
    assert first is not None
    assert second is not None
    assert context.sweep.ask_again(first.asked_again("2026-11-27T12:00:00.000Z"))
    assert not context.sweep.ask_again(second.asked_again("2026-11-27T12:00:01.000Z"))


def test_the_policy_waits_longer_after_each_question() -> None:
    assert [POLICY.wait_after(n).total_seconds() for n in (1, 2, 3)] == [10, 20, 40]
    assert POLICY.total_wait() == timedelta(seconds=70)


def test_an_overdue_job_of_a_cancelled_run_fails_as_cancelled_and_is_not_asked_again(
    context: FunctionContext,
) -> None:
    scene = Scene(context)
    run = "run-20261201T000000-0000000c"
    engine_start(workflow(f"{run}-1"), scene.at(0))
    context.cancellations.cancel(run, "2026-12-01T00:00:01.000Z")
    assert scene.sweep(11) == []
    failure = context.failures.get(WorkflowId(f"{run}-1"))
    assert failure is not None and failure.reason == CANCELLED
    assert scene.waiting() == []


def test_the_sweep_neither_asks_nor_fails_a_retry_billed_under_its_lineage_held(
    harness: Harness,
) -> None:
    """HELD: a retry of 25 customers (more than the sweep reads one by one), each billed
    under the lineage's folder by the first run's late answers: the sweep asks nothing
    again and fails nothing."""
    context = harness.services.context
    customers = [str(n) for n in range(1, 26)]
    run = start_run(customers)
    ids = ids_of(run)
    for customer in customers:
        fail(context, ids[customer], customer)
    retried = client("coordinator").post(f"/runs/{run['runId']}/retry").get_json()
    now = datetime.now(UTC)
    started = replace(context, clock=lambda: now)
    retry_workflows = [
        published
        for published in published_workflows(harness)
        if published.workflow_id.run_id == retried["runId"]
    ]
    assert len(retry_workflows) == 25
    for retry_workflow in retry_workflows:
        engine_start(retry_workflow, started)
    for customer in customers:
        write_bill(context, ids[customer], customer)  # the first run's late bills
    later = now + timedelta(hours=2)
    questions = retry_unanswered(Tick(later), replace(context, clock=lambda: later))
    assert questions == []
    status = client("coordinator").get(f"/runs/{retried['runId']}").get_json()
    assert status["counts"] == {"pending": 0, "billed": 25, "failed": 0}
