"""The three Kafka-triggered functions against the S3 stores, their buckets in memory."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from functions.context import FunctionContext
from functions.crm.customer_file import seed_customers
from functions.storage.keys import bill_name
from functions.triggered.crm_answer import crm_answer
from functions.triggered.engine_complete import engine_complete
from functions.triggered.engine_start import engine_start
from functions.wire.identifiers import WorkflowId
from functions.wire.messages import Answer, Outgoing, Question, Stream, WorkflowMessage
from tests.unit.harness import JOHN, NOW, workflow


def read_bill(context: FunctionContext, name: str) -> str:
    text = context.bills.text(name)
    assert text is not None, f"no bill {name}"
    return text


def test_engine_start_saves_a_pending_job_and_asks_about_the_customer(
    context: FunctionContext,
) -> None:
    out = engine_start(workflow(), context)
    assert out == [
        Outgoing(Stream.QUESTIONS, Question.about_customer(WorkflowId(1616523703935.42), "1"))
    ]
    job = context.answer_jobs.find(WorkflowId(1616523703935.42))
    assert job is not None
    assert (job.customer_id, job.attempts, job.asked_at) == ("1", 1, "2021-03-23T18:21:47.000Z")


def test_a_redelivered_workflow_is_asked_again_but_never_billed_twice(
    context: FunctionContext,
) -> None:
    engine_start(workflow(), context)
    assert len(engine_start(workflow(), context)) == 1
    wid = WorkflowId(1616523703935.42)
    engine_complete(Answer(wid, JOHN), context)
    name = bill_name("1", wid)
    first = read_bill(context, name)
    # Redelivered after its bill: asked again, and the second answer changes nothing.
    assert len(engine_start(workflow(), context)) == 1
    later = replace(context, clock=lambda: NOW + timedelta(hours=1))
    engine_complete(Answer(wid, replace(JOHN, city="Elsewhere")), later)
    assert read_bill(context, name) == first
    assert context.answer_jobs.find(wid) is None


def test_other_workflow_types_are_skipped(context: FunctionContext) -> None:
    other = WorkflowMessage.from_wire({"workflow-type": "refund", "workflow-id": "r1"})
    assert engine_start(other, context) == []
    assert context.answer_jobs.find(WorkflowId("r1")) is None


def test_crm_answers_with_the_customer(context: FunctionContext) -> None:
    context.customers.seed(seed_customers())
    out = crm_answer(Question.about_customer(WorkflowId("w1"), "8"), context)
    assert len(out) == 1
    answer = out[0].message
    assert isinstance(answer, Answer)
    assert answer.customer is not None
    assert (answer.customer.first_name, answer.customer.city) == ("Mary", "Winchelsea Beach")


def test_crm_answers_unknown_customer_without_a_customer(context: FunctionContext) -> None:
    out = crm_answer(Question.about_customer(WorkflowId("w1"), "99"), context)
    answer = out[0].message
    assert isinstance(answer, Answer)
    assert answer.customer is None
    assert "99" in (answer.error or "")


def test_crm_skips_other_question_categories(context: FunctionContext) -> None:
    question = Question("weather", WorkflowId("w1"), {})
    assert crm_answer(question, context) == []


def test_engine_complete_writes_the_bill_and_completes_the_job(context: FunctionContext) -> None:
    engine_start(workflow("run-a-1"), context)
    assert engine_complete(Answer(WorkflowId("run-a-1"), JOHN), context) == []
    name = bill_name("1", WorkflowId("run-a-1"))
    assert read_bill(context, name).startswith("Bill for John Doe\n")
    assert context.bills.billed_at(name) == "2021-03-23T18:21:47.000Z"
    assert context.answer_jobs.find(WorkflowId("run-a-1")) is None, "a billed job waits no more"
    assert context.failures.get(WorkflowId("run-a-1")) is None


def test_duplicate_answer_never_rewrites_the_bill(context: FunctionContext) -> None:
    engine_start(workflow("run-a-1"), context)
    engine_complete(Answer(WorkflowId("run-a-1"), JOHN), context)
    name = bill_name("1", WorkflowId("run-a-1"))
    first = read_bill(context, name)
    later = replace(context, clock=lambda: NOW + timedelta(hours=1))
    engine_complete(Answer(WorkflowId("run-a-1"), JOHN), later)
    assert read_bill(context, name) == first


def test_bill_written_before_a_crash_is_kept_when_the_answer_comes_again(
    context: FunctionContext,
) -> None:
    engine_start(workflow("run-a-1"), context)
    name = bill_name("1", WorkflowId("run-a-1"))
    context.bills.create(name, "written before the crash", WorkflowId("run-a-1"), "then")
    engine_complete(Answer(WorkflowId("run-a-1"), JOHN), context)
    assert read_bill(context, name) == "written before the crash"
    assert context.answer_jobs.find(WorkflowId("run-a-1")) is None


def test_answer_for_an_unknown_job_is_skipped(context: FunctionContext) -> None:
    assert engine_complete(Answer(WorkflowId("nobody"), JOHN), context) == []
    assert context.answer_jobs.find(WorkflowId("nobody")) is None


def test_answer_without_customer_fails_the_job_with_the_reason(context: FunctionContext) -> None:
    engine_start(workflow("run-a-1", customer="99"), context)
    engine_complete(Answer(WorkflowId("run-a-1"), None, "customer '99' is not known"), context)
    assert context.answer_jobs.find(WorkflowId("run-a-1")) is None
    failure = context.failures.get(WorkflowId("run-a-1"))
    assert failure is not None
    assert (failure.customer_id, failure.reason) == ("99", "customer '99' is not known")


def test_seed_gives_the_row_without_an_id_number_eight() -> None:
    customers = seed_customers()
    assert [c.customer_id for c in customers] == [str(n) for n in range(1, 9)]
    assert customers[-1].last_name == "Bertrand"


def test_seeding_twice_keeps_customer_changes(context: FunctionContext) -> None:
    assert context.customers.seed(seed_customers()) == 8
    context.customers.put(replace(JOHN, city="Utrecht"))
    assert context.customers.seed(seed_customers()) == 0
    john = context.customers.get("1")
    assert john is not None
    assert john.city == "Utrecht"
