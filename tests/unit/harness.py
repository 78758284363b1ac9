"""What the unit tests share besides their fixtures (``conftest.py``): the typed harness
around the HTTP functions and what they are asked (a run started, a bill written), a
recording publisher and output, a quiet backlog, the lab's sample messages and AWS's sample
events."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from flask import Flask
from functions_framework import create_app
from prometheus_client import REGISTRY

from functions.context import FunctionContext
from functions.errors import PublishFailed
from functions.identifiers import WorkflowId
from functions.messages import Customer, Outgoing, WorkflowMessage
from functions.storage.bucket import Bucket
from functions.storage.keys import bill_name
from runtime.config import REPO
from runtime.kafka.records import Produced
from runtime.services import Services

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# The bearer token of the tests that turn auth on (the `guarded` fixture).
TOKEN = "s3cr3t-t0ken-for-tests-only"
NOW = datetime(2021, 3, 23, 18, 21, 47, tzinfo=UTC)
JOHN = Customer("1", "John", "Doe", "Eindhoven", "8179", "2")


def workflow(workflow_id: str | float = 1616523703935.42, customer: str = "1") -> WorkflowMessage:
    """A bill-generation workflow as the lab's coordinator writes it."""
    return WorkflowMessage.from_wire(
        {
            "workflow-type": "bill-generation",
            "workflow-id": workflow_id,
            "create-time": "2021-03-23T18:21:43.935Z",
            "payload": {"customerIdentifier": customer},
        }
    )


def app(target: str) -> Flask:
    """functions-framework's own app for ``target``, loaded as the README starts it."""
    loaded: Flask = create_app(target=target, source=str(REPO / "main.py"))  # type: ignore[no-untyped-call]
    return loaded


def client(target: str) -> Any:
    return app(target).test_client()


def start_run(customers: list[str]) -> dict[str, Any]:
    """POST a run of ``customers`` to the coordinator; its 202 answer."""
    response = client("coordinator").post("/", json={"customerIdentifiers": customers})
    assert response.status_code == 202, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def write_bill(context: FunctionContext, workflow_id: str, customer: str) -> None:
    """The bill engine-complete writes for ``customer`` of ``workflow_id``."""
    wid = WorkflowId(workflow_id)
    assert context.bills.create(bill_name(customer, wid), "a bill", wid, "2021-03-23T18:21:48Z")


def event(name: str) -> dict[str, Any]:
    """An event as AWS documents it (``tests/data/lambda/<name>.json``)."""
    loaded: dict[str, Any] = json.loads(
        (REPO / "tests" / "data" / "lambda" / f"{name}.json").read_text()
    )
    return loaded


class RecordingOutput:
    """Keeps what a Lambda Kafka adapter sends, acknowledged at once."""

    def __init__(self) -> None:
        self.produced: list[Produced] = []

    def send(self, items: Sequence[Produced]) -> None:
        self.produced.extend(items)

    def wait_for_acks(self, then: str) -> None:
        pass


def s3_requests() -> float:
    """S3 requests made so far by every client the project built (its Prometheus counter)."""
    samples = (s for metric in REGISTRY.collect() for s in metric.samples)
    return sum(s.value for s in samples if s.name == "billing_s3_requests_total")


@dataclass
class RecordingPublisher:
    """Keeps what the coordinator publishes; ``fail`` makes Kafka refuse it."""

    published: list[Outgoing] = field(default_factory=list)
    fail: bool = False

    def publish(
        self, messages: Sequence[Outgoing], before_commit: Callable[[], None] = lambda: None
    ) -> None:
        before_commit()
        if self.fail:
            raise PublishFailed("Kafka at 127.0.0.1:9092 did not acknowledge 1 of 1 message(s)")
        self.published.extend(messages)


class QuietBacklog:
    """No question nor answer in line: a timer's tick never holds off."""

    def moving(self) -> bool:
        return False

    def close(self) -> None:
        pass


@dataclass
class Harness:
    """The HTTP functions' services on moto, with the publisher they publish to."""

    services: Services
    publisher: RecordingPublisher
    s3: S3Client

    def bucket(self, name: str) -> Bucket:
        return Bucket(self.s3, name)
