from __future__ import annotations

import json

import pytest

from functions.errors import MalformedMessage
from functions.wire.identifiers import WorkflowId
from functions.wire.messages import (
    Answer,
    Customer,
    Question,
    WorkflowMessage,
    decode_object,
    encode,
)

# Byte for byte as the lab's Node.js services write them (their README's samples).
LAB_WORKFLOW = (
    b'{"workflow-type":"bill-generation","workflow-id":1616523703935.42,'
    b'"create-time":"2021-03-23T18:21:43.935Z","payload":{"customerIdentifier":"1"}}'
)
LAB_QUESTION = (
    b'{"questionCategory":"customer","qaIdentifier":1616523703935.42,'
    b'"payload":{"customerIdentifier":"1"}}'
)
LAB_ANSWER = (
    b'{"qaIdentifier":1616523703935.42,"answer":{"customerId":"1","firstName":"John",'
    b'"lastName":"Doe","city":"Eindhoven","connectionId":"8179","connectionMandate":"2"}}'
)


@pytest.mark.parametrize(
    ("raw", "kind"),
    [(LAB_WORKFLOW, WorkflowMessage), (LAB_QUESTION, Question), (LAB_ANSWER, Answer)],
)
def test_lab_messages_round_trip_byte_for_byte(raw: bytes, kind: type[WorkflowMessage]) -> None:
    assert encode(kind.from_wire(decode_object(raw))) == raw


def test_numeric_workflow_id_is_echoed_as_a_number() -> None:
    workflow = WorkflowMessage.from_wire(decode_object(LAB_WORKFLOW))
    question = Question.about_customer(workflow.workflow_id, workflow.customer_identifier)
    assert encode(question) == LAB_QUESTION


def test_string_workflow_id_stays_a_string() -> None:
    raw = LAB_WORKFLOW.replace(b"1616523703935.42", b'"71638"')
    workflow = WorkflowMessage.from_wire(decode_object(raw))
    assert workflow.workflow_id.wire == "71638"
    assert (
        json.loads(encode(Question.about_customer(workflow.workflow_id, "1")))["qaIdentifier"]
        == "71638"
    )


def test_a_number_and_its_text_name_the_same_workflow() -> None:
    assert WorkflowId(1616523703935.42).key == WorkflowId("1616523703935.42").key


@pytest.mark.parametrize("text", ["a/b", "../x", "", "x" * 500, "a b", "é"])
def test_unsafe_ids_become_safe_distinct_keys(text: str) -> None:
    key = WorkflowId(text).key
    assert key.replace("-", "").replace(".", "").replace("_", "").isalnum()
    assert key != WorkflowId(text + "!").key


def test_unknown_customer_answer_has_no_answer_field_like_the_lab() -> None:
    answer = Answer(WorkflowId(5), None, "customer '99' is not known to the CRM")
    wire = json.loads(encode(answer))
    assert "answer" not in wire
    assert wire["qaIdentifier"] == 5


def test_answer_without_answer_field_parses_as_no_customer() -> None:
    answer = Answer.from_wire({"qaIdentifier": 7})
    assert answer.customer is None
    assert answer.error


def test_customer_numbers_are_accepted_as_text() -> None:
    customer = Customer.from_wire(
        {
            "customerId": 1,
            "firstName": "J",
            "lastName": "D",
            "city": "E",
            "connectionId": 8179,
            "connectionMandate": "2",
        }
    )
    assert customer.connection_id == "8179"


@pytest.mark.parametrize(
    ("raw", "complaint"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (b"\xff\xfe", "not JSON"),
        (b'{"workflow-id": 1}', '"workflow-type"'),
        (b'{"workflow-type": "bill-generation"}', '"workflow-id"'),
        (b'{"workflow-type": "bill-generation", "workflow-id": true}', "string or number"),
        (b'{"workflow-type": "bill-generation", "workflow-id": null}', "string or number"),
        (b'{"workflow-type": "bill-generation", "workflow-id": ""}', "empty"),
        (b'{"workflow-type": "bill-generation", "workflow-id": 1}', '"customerIdentifier"'),
        (
            b'{"workflow-type": "bill-generation", "workflow-id": 1,'
            b' "payload": {"customerIdentifier": {}}}',
            "must be a string",
        ),
    ],
)
def test_malformed_workflows_are_refused_with_the_reason(raw: bytes, complaint: str) -> None:
    with pytest.raises(MalformedMessage, match=complaint):
        WorkflowMessage.from_wire(decode_object(raw))


def test_other_workflow_types_need_no_customer() -> None:
    workflow = WorkflowMessage.from_wire({"workflow-type": "refund", "workflow-id": 3})
    assert workflow.workflow_type == "refund"


def test_missing_value_is_malformed() -> None:
    with pytest.raises(MalformedMessage, match="no value"):
        decode_object(None)
