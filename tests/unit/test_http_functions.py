"""The HTTP functions through functions-framework's own app loader and test client."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from functions_framework import create_app

import runtime.http
from functions.errors import PublishFailed
from functions.messages import Outgoing, Stream, WorkflowMessage, encode
from runtime.config import Settings
from runtime.services import Services
from tests.support import REPO


class RecordingPublisher:
    def __init__(self, fail: bool = False) -> None:
        self.published: list[Outgoing] = []
        self.fail = fail

    def publish(self, messages: Sequence[Outgoing]) -> None:
        if self.fail:
            raise PublishFailed("Kafka at 127.0.0.1:9092 did not acknowledge 1 of 1 message(s)")
        self.published.extend(messages)


@pytest.fixture
def services(
    s3: object, unit_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Services]:
    services = Services(unit_settings)
    services.s3 = s3  # type: ignore[assignment]
    services.publisher = RecordingPublisher()  # type: ignore[assignment]
    monkeypatch.setattr(runtime.http, "_services", services)
    yield services


def client(target: str) -> Any:
    return create_app(target=target, source=str(REPO / "main.py")).test_client()  # type: ignore[no-untyped-call]


def test_coordinator_publishes_one_lab_workflow_per_customer(services: Services) -> None:
    response = client("coordinator").post("/", json={"customerIdentifiers": ["1", "3"]})
    assert response.status_code == 202
    body = response.get_json()
    published = services.publisher.published  # type: ignore[attr-defined]
    assert [o.stream for o in published] == [Stream.WORKFLOWS] * 2
    wire = [json.loads(encode(o.message)) for o in published]
    assert list(wire[0]) == ["workflow-type", "workflow-id", "create-time", "payload"]
    assert [w["payload"]["customerIdentifier"] for w in wire] == ["1", "3"]
    assert {w["workflow-type"] for w in wire} == {"bill-generation"}
    assert [w["workflowId"] for w in body["workflows"]] == [w["workflow-id"] for w in wire]
    assert all(w["workflow-id"].startswith(body["runId"]) for w in wire)


def test_two_runs_never_share_a_workflow_id(services: Services) -> None:
    app = client("coordinator")
    for _ in range(3):
        app.post("/", json={"customerIdentifiers": ["1"] * 50})
    published = services.publisher.published  # type: ignore[attr-defined]
    ids = [o.message.workflow_id.wire for o in published if isinstance(o.message, WorkflowMessage)]
    assert len(ids) == len(set(ids)) == 150


@pytest.mark.parametrize(
    ("body", "status", "complaint"),
    [
        (b"", 400, "no body"),
        (b"{not json", 400, "not valid JSON"),
        (b'["1"]', 400, "JSON object"),
        (b'{"customerIdentifers": ["1"]}', 400, 'did you mean "customerIdentifiers"'),
        (b'{"customers": ["1"]}', 400, 'no "customerIdentifiers" field'),
        (b'{"customerIdentifiers": []}', 400, "non-empty array"),
        (b'{"customerIdentifiers": "1"}', 400, "non-empty array"),
        (b'{"customerIdentifiers": ["1", null]}', 400, "[1] must be a non-empty string"),
        (b'{"customerIdentifiers": ["1", " "]}', 400, "[1] must be a non-empty string"),
        (json.dumps({"customerIdentifiers": ["1"] * 10_001}).encode(), 413, "at most 10000"),
    ],
)
def test_coordinator_refuses_bad_bodies_naming_the_problem(
    services: Services, body: bytes, status: int, complaint: str
) -> None:
    response = client("coordinator").post("/", data=body, content_type="application/json")
    assert response.status_code == status
    assert complaint in response.get_json()["error"]
    assert services.publisher.published == []  # type: ignore[attr-defined]


def test_coordinator_accepts_numeric_ids_and_bodies_without_content_type(
    services: Services,
) -> None:
    response = client("coordinator").post("/", data=b'{"customerIdentifiers": [2, "4"]}')
    assert response.status_code == 202
    assert [w["customerIdentifier"] for w in response.get_json()["workflows"]] == ["2", "4"]


def test_coordinator_answers_405_to_get(services: Services) -> None:
    response = client("coordinator").get("/")
    assert response.status_code == 405
    assert "POST" in response.get_json()["error"]


def test_coordinator_answers_503_when_kafka_does_not_acknowledge(services: Services) -> None:
    services.publisher = RecordingPublisher(fail=True)  # type: ignore[assignment]
    response = client("coordinator").post("/", json={"customerIdentifiers": ["1"]})
    assert response.status_code == 503
    assert "did not acknowledge" in response.get_json()["error"]


def test_crm_serves_the_seeded_customers(services: Services) -> None:
    crm = client("crm")
    everyone = crm.get("/").get_json()
    assert [c["customerId"] for c in everyone] == [str(n) for n in range(1, 9)]
    mary = crm.get("/?customerId=8").get_json()
    assert mary == {
        "customerId": "8",
        "firstName": "Mary",
        "lastName": "Bertrand",
        "city": "Winchelsea Beach",
        "connectionId": "3481",
        "connectionMandate": "1",
    }
    missing = crm.get("/?customerId=99")
    assert missing.status_code == 404
    assert "99" in missing.get_json()["error"]


def test_crm_creates_with_the_next_id_and_updates(services: Services) -> None:
    crm = client("crm")
    new = {
        "firstName": "Ada",
        "lastName": "L",
        "city": "Delft",
        "connectionId": "1",
        "connectionMandate": "0",
    }
    created = crm.post("/customers", json=new)
    assert created.status_code == 201
    assert created.get_json()["customerId"] == "9"
    updated = crm.post("/customers/9", json={"city": "Leiden"})
    assert updated.status_code == 200
    assert crm.get("/?customerId=9").get_json()["city"] == "Leiden"
    assert crm.post("/customers/77", json={"city": "X"}).status_code == 404


@pytest.mark.parametrize(
    ("path", "body", "complaint"),
    [
        ("/customers", {"firstName": "A"}, "a new customer needs"),
        ("/customers", {"firstName": "A", "colour": "red"}, "unknown field(s) ['colour']"),
        ("/customers/1", {"city": ""}, '"city" must be a non-empty string'),
        ("/customers/1", ["city"], "JSON object"),
    ],
)
def test_crm_refuses_bad_bodies(
    services: Services, path: str, body: object, complaint: str
) -> None:
    response = client("crm").post(path, json=body)
    assert response.status_code == 400
    assert complaint in response.get_json()["error"]


def test_crm_names_its_routes_on_a_wrong_one(services: Services) -> None:
    response = client("crm").delete("/customers/1")
    assert response.status_code == 404
    assert "GET /?customerId=N" in response.get_json()["error"]
