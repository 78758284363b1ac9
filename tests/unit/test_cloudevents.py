"""Every message we produce is a CloudEvent in binary mode; what we read needs no headers."""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime

from functions.context import FunctionContext
from functions.crm.customer_file import seed_customers
from functions.wire.identifiers import WorkflowId
from functions.wire.messages import Question, encode
from runtime import cloudevents
from runtime.config import FunctionSettings
from runtime.kafka.invoker import Invoker
from runtime.kafka.records import Produced, Record
from runtime.triggers import BY_FUNCTION

WORKFLOW_ID = "run-20261128T001500-0a1b2c3d-1"
WORKFLOW = {
    "workflow-type": "bill-generation",
    "workflow-id": WORKFLOW_ID,
    "create-time": "",
    "payload": {"customerIdentifier": "1"},
}
REQUIRED = {"ce_specversion", "ce_id", "ce_type", "ce_source", "ce_time", "content-type"}


def invoke(
    function: str, context: FunctionContext, settings: FunctionSettings, record: Record
) -> Produced:
    (produced,) = Invoker(BY_FUNCTION[function], settings, context, sleep=lambda _: None)(record)
    return produced


def check_event(produced: Produced, type_: str, source: str) -> dict[str, str]:
    headers = {name: value.decode() for name, value in produced.headers}
    assert set(headers) >= REQUIRED
    assert headers["ce_specversion"] == "1.0"
    assert (headers["ce_type"], headers["ce_source"]) == (type_, source)
    uuid.UUID(headers["ce_id"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", headers["ce_time"])
    datetime.fromisoformat(headers["ce_time"])
    return headers


def test_a_lab_message_without_headers_is_read_and_answered_with_an_event(
    context: FunctionContext, unit_settings: FunctionSettings
) -> None:
    plain = Record(json.dumps(WORKFLOW).encode(), "workflow-queue")
    assert plain.headers == ()
    question = invoke("engine-start", context, unit_settings, plain)
    headers = check_event(question, "io.billing.question.customer", "/billing/engine-start")
    assert headers["content-type"] == "application/json"
    # The value stays the lab's JSON, the key the workflow id.
    assert json.loads(question.value)["qaIdentifier"] == WORKFLOW_ID
    assert question.key == WORKFLOW_ID.encode()


def test_the_crm_answers_with_an_event_of_its_own(
    context: FunctionContext, unit_settings: FunctionSettings
) -> None:
    context.customers.put(seed_customers()[0])
    question = {
        "questionCategory": "customer",
        "qaIdentifier": 7,
        "payload": {"customerIdentifier": "1"},
    }
    with_headers = Record(
        json.dumps(question).encode(),
        "questions-topic",
        headers=[("ce_specversion", b"1.0"), ("ce_id", b"q-1"), ("traceparent", b"00-abc")],
    )
    answer = invoke("crm-answer", context, unit_settings, with_headers)
    headers = check_event(answer, "io.billing.answer", "/billing/crm-answer")
    assert headers["ce_id"] != "q-1"


def test_ids_are_unique_per_event(
    context: FunctionContext, unit_settings: FunctionSettings
) -> None:
    record = Record(json.dumps(WORKFLOW).encode(), "workflow-queue")
    ids = {
        dict(invoke("engine-start", context, unit_settings, record).headers)["ce_id"]
        for _ in range(20)
    }
    assert len(ids) == 20


def test_a_dead_letter_is_an_event_that_keeps_the_originals_id_and_headers(
    context: FunctionContext, unit_settings: FunctionSettings
) -> None:
    poison = Record(
        b"{oops",
        "workflow-queue",
        headers=[
            ("ce_id", b"original-1"),
            ("ce_type", b"io.billing.workflow.bill-generation"),
            ("content-type", b"application/json"),
            ("traceparent", b"00-abc"),
        ],
    )
    dead = invoke("engine-start", context, unit_settings, poison)
    headers = check_event(dead, cloudevents.DEAD_LETTER, "/billing/engine-start")
    assert headers["dlq-source-ce-id"] == "original-1"
    assert headers["traceparent"] == "00-abc"
    assert headers["content-type"] == "application/json"
    assert [name for name, _ in dead.headers].count("ce_id") == 1
    assert dead.value == b"{oops"

    bare = invoke("engine-start", context, unit_settings, Record(b"\xff", "workflow-queue"))
    assert dict(bare.headers)["content-type"] == b"application/octet-stream"
    assert "dlq-source-ce-id" not in dict(bare.headers)


def test_the_cloudevents_sdk_reads_our_headers_as_the_event_we_meant() -> None:
    """Our binary-mode headers, read back by the CloudEvents SDK's own Kafka binding."""
    from cloudevents.kafka import KafkaMessage, from_binary

    question = Question.about_customer(WorkflowId("run-20261129T101010-0a1b2c3d-17"), "17")
    headers = dict(cloudevents.for_message(question, "engine-start"))
    event = from_binary(KafkaMessage(headers, b"key", encode(question)))
    assert event["specversion"] == "1.0"
    assert event["type"] == "io.billing.question.customer"
    assert event["source"] == "/billing/engine-start"
    assert event["datacontenttype"] == "application/json"
    assert event.get_data() == question.to_wire()
