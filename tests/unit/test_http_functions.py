"""The HTTP functions through functions-framework's own app loader and test client."""

from __future__ import annotations

import json

import pytest

from functions.http.web import MAX_BODY_BYTES
from functions.wire.messages import Stream, WorkflowMessage, encode
from tests.unit.harness import Harness, S3Harness, client


def test_coordinator_publishes_one_lab_workflow_per_customer(harness: Harness) -> None:
    response = client("coordinator").post("/", json={"customerIdentifiers": ["1", "3"]})
    assert response.status_code == 202
    body = response.get_json()
    published = harness.publisher.published
    assert [o.stream for o in published] == [Stream.WORKFLOWS] * 2
    wire = [json.loads(encode(o.message)) for o in published]
    assert list(wire[0]) == ["workflow-type", "workflow-id", "create-time", "payload"]
    assert [w["payload"]["customerIdentifier"] for w in wire] == ["1", "3"]
    assert {w["workflow-type"] for w in wire} == {"bill-generation"}
    assert [w["workflowId"] for w in body["workflows"]] == [w["workflow-id"] for w in wire]
    assert all(w["workflow-id"].startswith(body["runId"]) for w in wire)


def test_two_runs_never_share_a_workflow_id(harness: Harness) -> None:
    app = client("coordinator")
    customers = [str(n) for n in range(50)]
    for _ in range(3):
        assert app.post("/", json={"customerIdentifiers": customers}).status_code == 202
    published = harness.publisher.published
    ids = [o.message.workflow_id.wire for o in published if isinstance(o.message, WorkflowMessage)]
    assert len(ids) == len(set(ids)) == 150


LIMIT = MAX_BODY_BYTES


@pytest.mark.parametrize(
    ("body", "status", "complaint"),
    [
        (b"", 400, "no body"),
        (b"{not json", 400, "not valid JSON"),
        (b"\xff\xfe", 400, "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, 400, "nests too deeply"),
        (b'["1"]', 400, "JSON object"),
        (b'{"customerIdentifers": ["1"]}', 400, 'did you mean "customerIdentifiers"'),
        (b'{"ids": ["1"]}', 400, 'no "customerIdentifiers" field'),
        (b'{"customers": ["1"]}', 400, 'did you mean "customerIdentifiers"'),
        (b'{"customerIdentifiers": []}', 400, '"customerIdentifiers" is empty; give at least 1'),
        (b'{"customerIdentifiers": "1"}', 400, '"customerIdentifiers" must be an array'),
        (b'{"customerIdentifiers": ["1", null]}', 400, "[1] must be a string, got null"),
        (b'{"customerIdentifiers": [2]}', 400, '[0] must be a string, got 2 (write it as "2")'),
        (b'{"customerIdentifiers": ["1", " "]}', 400, "[1] is ' ', which is not a customer id"),
        (b'{"customerIdentifiers": ["../x"]}', 400, "not a customer id"),
        (b'{"customerIdentifiers": ["/"]}', 400, "not a customer id"),
        (b'{"customerIdentifiers": ["a/b"]}', 400, "not a customer id"),
        (b'{"customerIdentifiers": ["1\\u0000"]}', 400, "not a customer id"),
        (b'{"customerIdentifiers": ["1\\n"]}', 400, "not a customer id"),
        (b'{"customerIdentifiers": ["%s"]}' % (b"9" * 65), 400, "not a customer id"),
        (b'{"customerIdentifiers": ["1", "2", "1"]}', 400, "[2] repeats customer '1'"),
        (
            json.dumps({"customerIdentifiers": [str(n) for n in range(10_001)]}).encode(),
            413,
            "at most 10000",
        ),
        (b'{"customerIdentifiers": ["1"]}' + b" " * LIMIT, 413, f"over {LIMIT} bytes"),
    ],
)
def test_coordinator_refuses_bad_bodies_naming_the_problem(
    harness: Harness, body: bytes, status: int, complaint: str
) -> None:
    response = client("coordinator").post("/", data=body, content_type="application/json")
    assert response.status_code == status
    assert complaint in response.get_json()["detail"]
    assert harness.publisher.published == []


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_coordinator_wants_a_json_content_type(harness: Harness, content_type: str | None) -> None:
    response = client("coordinator").post(
        "/", data=b'{"customerIdentifiers": ["1"]}', content_type=content_type
    )
    assert response.status_code == 415
    assert "Content-Type: application/json" in response.get_json()["detail"]
    assert harness.publisher.published == []


def test_coordinator_takes_json_with_a_charset(harness: Harness) -> None:
    response = client("coordinator").post(
        "/",
        data=b'{"customerIdentifiers": ["C-7", "2"]}',
        content_type="application/json; charset=utf-8",
    )
    assert response.status_code == 202
    assert [w["customerIdentifier"] for w in response.get_json()["workflows"]] == ["C-7", "2"]


def test_coordinator_answers_503_when_kafka_does_not_acknowledge(harness: Harness) -> None:
    harness.publisher.fail = True
    response = client("coordinator").post("/", json={"customerIdentifiers": ["1"]})
    assert response.status_code == 503
    assert "none was published" in response.get_json()["detail"]


def test_a_run_that_cannot_be_recorded_is_not_published(s3_harness: S3Harness) -> None:
    """The run's record is saved while its workflows are on their way to Kafka; no
    workflow may be read without its run."""
    jobs_bucket = s3_harness.services.settings.jobs_bucket
    s3_harness.s3.delete_bucket(Bucket=jobs_bucket)
    response = client("coordinator").post("/", json={"customerIdentifiers": ["1"]})
    assert response.status_code == 503
    assert f"S3 bucket {jobs_bucket!r} does not exist" in response.get_json()["detail"]
    assert s3_harness.publisher.published == []


def test_an_idempotency_key_returns_the_first_run_instead_of_a_second(
    harness: Harness,
) -> None:
    app = client("coordinator")
    body = {"customerIdentifiers": ["1", "2"]}
    first = app.post("/", json=body, headers={"Idempotency-Key": "k-1"})
    again = app.post("/", json=body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 202
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert len(harness.publisher.published) == 2

    other = app.post("/", json=body, headers={"Idempotency-Key": "k-2"})
    assert other.get_json()["runId"] != first.get_json()["runId"]
    assert len(harness.publisher.published) == 4


def test_a_key_reused_for_other_customers_is_refused(harness: Harness) -> None:
    app = client("coordinator")
    app.post("/", json={"customerIdentifiers": ["1"]}, headers={"Idempotency-Key": "k"})
    response = app.post("/", json={"customerIdentifiers": ["2"]}, headers={"Idempotency-Key": "k"})
    assert response.status_code == 422
    assert "use a new key" in response.get_json()["detail"]
    assert len(harness.publisher.published) == 1


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9", " ", " k", "k "])
def test_an_unusable_idempotency_key_is_refused(harness: Harness, key: str) -> None:
    response = client("coordinator").post(
        "/", json={"customerIdentifiers": ["1"]}, headers={"Idempotency-Key": key}
    )
    assert response.status_code == 400
    assert "Idempotency-Key must be" in response.get_json()["detail"]


def test_a_run_that_kafka_refused_is_published_by_the_retry_with_its_key(
    harness: Harness,
) -> None:
    app = client("coordinator")
    body = {"customerIdentifiers": ["1", "2"]}
    harness.publisher.fail = True
    refused = app.post("/", json=body, headers={"Idempotency-Key": "retry-me"})
    assert refused.status_code == 503
    harness.publisher.fail = False
    retried = app.post("/", json=body, headers={"Idempotency-Key": "retry-me"})
    assert retried.status_code == 202
    assert "Idempotent-Replayed" not in retried.headers
    published = harness.publisher.published
    assert [o.message.workflow_id.wire for o in published] == [
        w["workflowId"] for w in retried.get_json()["workflows"]
    ]
    replayed = app.post("/", json=body, headers={"Idempotency-Key": "retry-me"})
    assert replayed.get_json() == retried.get_json()
    assert len(harness.publisher.published) == 2


def test_crm_serves_the_seeded_customers(harness: Harness) -> None:
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
    assert "99" in missing.get_json()["detail"]


def test_crm_creates_with_the_next_id_and_updates(harness: Harness) -> None:
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
        ("/customers", {"firstName": "A"}, 'has no "connectionMandate" field'),
        ("/customers", {"firstName": "A", "colour": "red"}, 'unknown field "colour"'),
        ("/customers/1", {"city": ""}, '"city" must be a non-empty string'),
        ("/customers/1", ["city"], "JSON object"),
    ],
)
def test_crm_refuses_bad_bodies(harness: Harness, path: str, body: object, complaint: str) -> None:
    response = client("crm").post(path, json=body)
    assert response.status_code == 400
    problem = response.get_json()
    assert complaint in " ".join(item["detail"] for item in problem["errors"])


@pytest.mark.parametrize("customer_id", ["../x", "a b", "1%00", "%2F"])
def test_crm_refuses_what_cannot_be_a_customer_id(harness: Harness, customer_id: str) -> None:
    crm = client("crm")
    for response in (
        crm.get(f"/?customerId={customer_id}"),
        crm.post(f"/customers/{customer_id}", json={"city": "X"}),
    ):
        assert response.status_code in (400, 404)
        assert "detail" in response.get_json()


def test_crm_wants_json_for_its_posts(harness: Harness) -> None:
    response = client("crm").post("/customers/1", data=b'{"city": "X"}', content_type="text/plain")
    assert response.status_code == 415


def test_both_http_functions_serve_their_metrics(s3_harness: S3Harness) -> None:
    client("crm").get("/?customerId=1")
    for target in ("coordinator", "crm"):
        response = client(target).get("/metrics")
        assert response.status_code == 200
        assert 'billing_s3_requests_total{operation="GetObject"}' in response.get_data(as_text=True)


def test_an_unknown_query_parameter_is_refused_not_ignored(harness: Harness) -> None:
    # A typo must not silently turn "one customer" into "every customer".
    response = client("crm").get("/?customerid=1")
    assert response.status_code == 400
    assert "unknown query parameter(s) 'customerid'" in response.get_json()["detail"]
    assert "it takes customerId" in response.get_json()["detail"]
    response = client("coordinator").post("/?dry=1", json={"customerIdentifiers": ["1"]})
    assert response.status_code == 400
    assert harness.publisher.published == []


def test_crm_names_its_routes_on_a_wrong_one(harness: Harness) -> None:
    response = client("crm").get("/accounts/1")
    assert response.status_code == 404
    error = response.get_json()["detail"]
    offered = "GET /, GET /customer-ids, GET /customer-search, POST /customers, POST /customers/"
    assert offered + "{customerId}" in error


@pytest.mark.parametrize(
    ("target", "method", "path", "allowed"),
    [
        ("crm", "DELETE", "/customers/1", "POST"),
        ("crm", "PUT", "/", "GET, HEAD"),
        ("coordinator", "GET", "/", "POST"),
        ("coordinator", "HEAD", "/", "POST"),
        ("coordinator", "POST", "/runs/run-20261128T001500-0a1b2c3d", "GET, HEAD"),
        ("coordinator", "POST", "/openapi.json", "GET, HEAD"),
    ],
)
def test_a_known_path_with_a_wrong_method_is_405_with_allow(
    harness: Harness, target: str, method: str, path: str, allowed: str
) -> None:
    response = client(target).open(path, method=method)
    assert response.status_code == 405
    assert response.headers["Allow"] == allowed
    if method != "HEAD":  # a HEAD's answer has no body
        assert allowed.replace(", ", " or ") in response.get_json()["detail"]


@pytest.mark.parametrize(
    ("target", "path"),
    [("coordinator", "/runs"), ("coordinator", "/openapi.json"), ("crm", "/?customerId=1")],
)
def test_a_head_has_the_gets_status_and_headers_and_no_body(
    harness: Harness, target: str, path: str
) -> None:
    got, head = client(target).get(path), client(target).head(path)
    assert (head.status_code, head.data) == (got.status_code, b"")
    assert head.headers["Content-Type"] == got.headers["Content-Type"]
    assert head.headers["Content-Length"] == str(len(got.data))
