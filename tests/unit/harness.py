"""What the unit tests share besides their fixtures (``conftest.py``): the typed harness
around the HTTP functions and what they are asked (a run started, a bill written), the
CLI's Api over it, a recording publisher and output, a quiet backlog, the lab's sample
messages, AWS's sample events and a function URL's event built by hand."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flask import Flask
from functions_framework import create_app
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.s3.models import s3_backends
from prometheus_client import REGISTRY

from functions.context import FunctionContext
from functions.errors import PublishFailed
from functions.storage import StoredBill
from functions.storage.bucket import Bucket
from functions.storage.keys import bill_name
from functions.storage.objects import Objects
from functions.wire.identifiers import WorkflowId
from functions.wire.messages import Customer, Outgoing, WorkflowMessage
from runtime.config import REPO
from runtime.kafka.records import Produced
from runtime.services import Services

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# The bearer token of the tests that turn auth on (the `guarded` fixture), and the bucket
# of their named tokens.
TOKEN = "s3cr3t-t0ken-for-tests-only"
TOKENS_BUCKET = "billing-tokens"
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
    """functions-framework's own app for ``target``, loaded as docs/architecture.md starts it."""
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


def function_url_event(
    method: str,
    url: str,
    headers: Mapping[str, str] | None = None,
    body: str | None = None,
    *,
    base64_encoded: bool = False,
) -> dict[str, Any]:
    """A function URL's event (payload format 2.0) asking ``method`` of ``url`` (a path and
    its query): a function URL hands the path over as the client sent it, percent-encoded
    (rawPath). AWS's own sample is ``event("function-url")``."""
    parts = urlsplit(url)
    built: dict[str, Any] = {
        "version": "2.0",
        "rawPath": parts.path,
        "rawQueryString": parts.query,
        "headers": dict(headers or {}),
        "requestContext": {"http": {"method": method, "path": parts.path}},
        "isBase64Encoded": base64_encoded,
    }
    if body is not None:
        built["body"] = body
    return built


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
            raise PublishFailed(
                "Kafka at 127.0.0.1:9092 did not take the message(s), so none was published"
            )
        self.published.extend(messages)


class QuietBacklog:
    """No question nor answer in line: a timer's tick never holds off."""

    def moving(self) -> bool:
        return False

    def close(self) -> None:
        pass


@dataclass
class Harness:
    """The HTTP functions' services, with the publisher they publish to; their buckets in
    memory (the ``harness`` fixture) or on moto (``S3Harness``)."""

    services: Services
    publisher: RecordingPublisher

    def bucket(self, name: str) -> Objects:
        """The bucket ``name`` the services use: another ``Services`` given
        ``buckets=harness.bucket`` shares the harness's objects."""
        return self.services.bucket(name)


@dataclass
class S3Harness(Harness):
    """The harness on moto, with the S3 client the services use (``s3_harness``)."""

    s3: S3Client

    def bucket(self, name: str) -> Bucket:
        return Bucket(self.s3, name)


class HarnessApi:
    """The CLI's Api over the unit harness: the coordinator's test client, the bills' store."""

    def __init__(self, harness: Harness) -> None:
        self.context = harness.services.context

    def bills(self, prefix: str = "") -> Iterator[StoredBill]:
        return self.context.bills.listing(prefix)

    def bill_writer(self, name: str) -> str | None:
        return self.context.bills.writer(name)

    def run_status(self, run_id: str, state: str | None = None) -> dict[str, Any]:
        query = f"?state={state}" if state else ""
        answer: dict[str, Any] = client("coordinator").get(f"/runs/{run_id}{query}").get_json()
        return answer


class WrittenInPlace(Bucket):
    """A bucket whose writes go into moto's store as they are, without a request: the keys,
    bytes and metadata the stores' own code chose, at a thousandth of a request's CPU. Cost
    tests seed thousands of objects this way, then count the requests that matter."""

    def put_bytes(
        self,
        key: str,
        body: bytes,
        content_type: str,
        *,
        only_if_absent: bool = False,
        metadata: Mapping[str, str] | None = None,
    ) -> str | None:
        backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
        if only_if_absent and key in backend.get_bucket(self.name).keys:
            return None
        stored = backend.put_object(self.name, key, body)
        # As moto keeps what a PutObject's headers say (tests/unit/test_seeding.py).
        meta = {f"x-amz-meta-{name}": value for name, value in (metadata or {}).items()}
        stored.set_metadata({"Content-Type": content_type, **meta})
        etag: str = stored.etag
        return etag


class WritingInPlace(Services):
    """The functions' services with buckets that write in place (reads are S3 requests)."""

    def bucket(self, name: str) -> Bucket:
        return WrittenInPlace(self.s3, name)


def seeding(harness: Harness) -> FunctionContext:
    """The functions' stores on the harness's buckets, writing in place: what a test writes
    through them costs no request (in memory, nothing does)."""
    if isinstance(harness, S3Harness):
        return WritingInPlace(harness.services.settings, s3=harness.s3).context
    return Services(harness.services.settings, buckets=harness.bucket).context
