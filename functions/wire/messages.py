"""The wire format shared with the lab's Node.js services, as typed messages.

Every message value is a JSON object whose field names, order and types follow the
lab's services, so any one of them can be swapped for ours (the samples in
``tests/unit/test_messages.py`` are theirs, byte for byte). Ours add a key, the workflow
id, so every message about one workflow lands on one partition; the lab's services ignore
keys.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from functions.errors import MalformedMessage
from functions.wire import json_values
from functions.wire.billing_period import PERIOD_RULE, BillingPeriod
from functions.wire.identifiers import CUSTOMER_ID_RULE, RunId, WorkflowId, is_customer_id

BILL_GENERATION = "bill-generation"
LINEAGE = "lineage"  # a retry's workflows name the run its lineage began with
BILLING_PERIOD = "billingPeriod"  # a run of a period: its bills are the period's
CUSTOMER_QUESTION = "customer"


class Stream(enum.Enum):
    """The logical streams a function reads or writes; the runtime maps them to topics."""

    WORKFLOWS = "workflows"
    QUESTIONS = "questions"
    ANSWERS = "answers"


class WireMessage(Protocol):
    def to_wire(self) -> dict[str, Any]: ...

    @property
    def workflow_id(self) -> WorkflowId: ...

    @property
    def partition_key(self) -> str: ...


@dataclass(frozen=True)
class Outgoing:
    """A message a function wants produced; the runtime sends it and waits for the ack."""

    stream: Stream
    message: WireMessage
    # Sent outside a record's processing (by a timer): the traceparent it continues.
    trace: str | None = None


def encode(message: WireMessage) -> bytes:
    """Compact JSON, as Node's ``JSON.stringify`` writes it."""
    return json.dumps(message.to_wire(), separators=(",", ":"), ensure_ascii=False).encode()


def decode_object(raw: bytes | None) -> Mapping[str, Any]:
    if raw is None:
        raise MalformedMessage("the message has no value; expected a JSON object")
    try:
        value = json_values.loads(raw)
    except ValueError as exc:
        raise MalformedMessage(f"the message value is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise MalformedMessage(f"expected a JSON object, got {type(value).__name__}")
    return value


def customer_id_field(obj: Mapping[str, Any], name: str, kind: str) -> str:
    """A customer id from a message; one that could not name a customer is malformed."""
    text = _text(obj, name, kind)
    if not is_customer_id(text):
        raise MalformedMessage(
            f"{kind} field {name!r} is {text!r}, which is not a customer id ({CUSTOMER_ID_RULE})"
        )
    return text


def _field(obj: Mapping[str, Any], name: str, kind: str) -> Any:
    if name not in obj:
        raise MalformedMessage(f'{kind} has no "{name}" field')
    return obj[name]


def _text(obj: Mapping[str, Any], name: str, kind: str) -> str:
    """A text field; the lab sends every value as a string, but numbers are accepted."""
    value = _field(obj, name, kind)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise MalformedMessage(f'{kind} field "{name}" must be a string, got {json.dumps(value)}')
    text = value if isinstance(value, str) else json.dumps(value)
    if not text.strip():
        raise MalformedMessage(f'{kind} field "{name}" must not be empty')
    return text


def _payload(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """The lab's payload object; checked field by field by whoever reads it."""
    payload = obj.get("payload")
    return payload if isinstance(payload, dict) else {}


def _object(obj: Mapping[str, Any], name: str, kind: str) -> Mapping[str, Any]:
    value = _field(obj, name, kind)
    if not isinstance(value, dict):
        raise MalformedMessage(f'{kind} field "{name}" must be a JSON object')
    return value


@dataclass(frozen=True)
class WorkflowMessage:
    """On ``workflow-queue``: one step of work, e.g. generate one customer's bill."""

    workflow_type: str
    workflow_id: WorkflowId
    create_time: str
    payload: Mapping[str, Any]

    kind: ClassVar[str] = "workflow message"

    @classmethod
    def from_wire(cls, obj: Mapping[str, Any]) -> WorkflowMessage:
        message = cls(
            workflow_type=_text(obj, "workflow-type", cls.kind),
            workflow_id=WorkflowId.from_wire(_field(obj, "workflow-id", cls.kind), "workflow-id"),
            create_time=str(obj.get("create-time", "")),
            payload=_payload(obj),
        )
        message.validate()
        return message

    def validate(self) -> None:
        """A bill-generation workflow names a valid customer (and, for a retry, the run its
        lineage began with; for a run of a period, the period); other kinds pass through."""
        if self.workflow_type == BILL_GENERATION:
            customer_id_field(self.payload, "customerIdentifier", "bill-generation payload")
            lineage = self.payload.get(LINEAGE, None)
            if lineage is not None and (not isinstance(lineage, str) or not RunId.is_one(lineage)):
                raise MalformedMessage(
                    f"bill-generation payload field {LINEAGE!r} is {json.dumps(lineage)}, which"
                    " is not a run id (like run-20261127T200347-1f2e3d4c)"
                )
            period = self.payload.get(BILLING_PERIOD, None)
            if period is not None and (
                not isinstance(period, str) or not BillingPeriod.is_one(period)
            ):
                raise MalformedMessage(
                    f"bill-generation payload field {BILLING_PERIOD!r} is"
                    f" {json.dumps(period)[:60]}, which is not {PERIOD_RULE}"
                )

    @property
    def lineage(self) -> str | None:
        """The run whose lineage this workflow's run is part of (it retries that run's
        failures, or a retry's), which names every bill of the lineage; None for a run of
        its own (``docs/guarantees.md``). Ours only: the lab's engine ignores it."""
        lineage = self.payload.get(LINEAGE)
        return lineage if isinstance(lineage, str) else None

    @property
    def billing_period(self) -> str | None:
        """The period the workflow bills, whose one bill of the customer it writes; None
        for a run without one. Ours only: the lab's engine ignores it."""
        period = self.payload.get(BILLING_PERIOD)
        return period if isinstance(period, str) else None

    @property
    def customer_identifier(self) -> str:
        return customer_id_field(self.payload, "customerIdentifier", "bill-generation payload")

    @property
    def partition_key(self) -> str:
        return self.workflow_id.text

    def to_wire(self) -> dict[str, Any]:
        return {
            "workflow-type": self.workflow_type,
            "workflow-id": self.workflow_id.wire,
            "create-time": self.create_time,
            "payload": dict(self.payload),
        }


@dataclass(frozen=True)
class Question:
    """On ``questions-topic``: a question to whichever service answers its category."""

    category: str
    qa_identifier: WorkflowId
    payload: Mapping[str, Any]

    kind: ClassVar[str] = "question"

    @classmethod
    def about_customer(cls, qa_identifier: WorkflowId, customer_id: str) -> Question:
        return cls(CUSTOMER_QUESTION, qa_identifier, {"customerIdentifier": customer_id})

    @classmethod
    def from_wire(cls, obj: Mapping[str, Any]) -> Question:
        question = cls(
            category=_text(obj, "questionCategory", cls.kind),
            qa_identifier=WorkflowId.from_wire(
                _field(obj, "qaIdentifier", cls.kind), "qaIdentifier"
            ),
            payload=_payload(obj),
        )
        question.validate()
        return question

    def validate(self) -> None:
        """A customer question names a valid customer; other categories pass through."""
        if self.category == CUSTOMER_QUESTION:
            customer_id_field(self.payload, "customerIdentifier", "customer question payload")

    @property
    def customer_identifier(self) -> str:
        return customer_id_field(self.payload, "customerIdentifier", "customer question payload")

    @property
    def workflow_id(self) -> WorkflowId:
        """The lab correlates a question and its answer by the asking workflow's id."""
        return self.qa_identifier

    @property
    def partition_key(self) -> str:
        return self.qa_identifier.text

    def to_wire(self) -> dict[str, Any]:
        return {
            "questionCategory": self.category,
            "qaIdentifier": self.qa_identifier.wire,
            "payload": dict(self.payload),
        }


@dataclass(frozen=True)
class Customer:
    customer_id: str
    first_name: str
    last_name: str
    city: str
    connection_id: str
    connection_mandate: str

    kind: ClassVar[str] = "customer"
    WIRE_FIELDS: ClassVar[tuple[str, ...]] = (
        "customerId",
        "firstName",
        "lastName",
        "city",
        "connectionId",
        "connectionMandate",
    )

    @classmethod
    def from_wire(cls, obj: Mapping[str, Any]) -> Customer:
        values = [_text(obj, name, cls.kind) for name in cls.WIRE_FIELDS]
        return cls(*values)

    def to_wire(self) -> dict[str, Any]:
        return dict(
            zip(
                self.WIRE_FIELDS,
                (
                    self.customer_id,
                    self.first_name,
                    self.last_name,
                    self.city,
                    self.connection_id,
                    self.connection_mandate,
                ),
                strict=True,
            )
        )


@dataclass(frozen=True)
class Answer:
    """On ``answers-topic``: the answer to the question with the same ``qaIdentifier``.

    An unknown customer is answered without an ``answer`` field, as the lab's CRM does;
    ours adds an ``error`` saying why, which the lab's engine ignores.
    """

    qa_identifier: WorkflowId
    customer: Customer | None
    error: str | None = None

    kind: ClassVar[str] = "answer"

    @classmethod
    def from_wire(cls, obj: Mapping[str, Any]) -> Answer:
        qa_identifier = WorkflowId.from_wire(_field(obj, "qaIdentifier", cls.kind), "qaIdentifier")
        if "answer" not in obj or obj["answer"] is None:
            error = obj.get("error")
            return cls(qa_identifier, None, error if isinstance(error, str) else "no answer given")
        return cls(qa_identifier, Customer.from_wire(_object(obj, "answer", cls.kind)))

    @property
    def partition_key(self) -> str:
        return self.qa_identifier.text

    @property
    def workflow_id(self) -> WorkflowId:
        return self.qa_identifier

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"qaIdentifier": self.qa_identifier.wire}
        if self.customer is not None:
            wire["answer"] = self.customer.to_wire()
        if self.error is not None:
            wire["error"] = self.error
        return wire
