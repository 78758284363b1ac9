"""The audit trail: every state-changing request recorded once, before it is done, with who
asked and what came of it; refusals for a role too; a record that cannot be written stops
the request; ``GET /audit`` pages it newest first, by run, by who and by time, at the cost
its page shows; and a run's status says who started and who cancelled it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from functions.errors import StorageUnavailable
from functions.storage import Page
from functions.storage.audit_log import AuditEntry, AuditLog, AuditOutcome, AuditQuery
from runtime.aws_lambda.http import HttpAdapter
from runtime.http_function import HttpFunction
from tests.unit.callers import ADMIN, Clock, audit, start, token_of
from tests.unit.harness import Harness, S3Harness, client, function_url_event, s3_requests


def test_who_started_and_who_cancelled_a_run_is_in_its_audit_and_its_status(
    guarded: Harness, ticking_clock: Clock
) -> None:
    starter, canceller = token_of("ann", "operator"), token_of("bob", "operator")
    started = start(starter)
    assert started.status_code == 202, started.get_json()
    run = started.get_json()["runId"]
    cancelled = client("coordinator").post(f"/runs/{run}/cancel", headers=canceller)
    assert cancelled.status_code == 202 and cancelled.get_json()["cancelledBy"] == "bob"
    records = audit(f"?run={run}")["records"]
    assert [(r["who"], r["operation"], r["state"]) for r in records] == [
        ("bob", "cancelRun", "done"),
        ("ann", "startRun", "done"),
    ]
    assert records[1]["outcome"] == {"status": 202, "replayed": False, "runs": [run]}
    assert records[1]["role"] == "operator" and records[1]["via"] == "named token"
    assert records[1]["requestId"] == started.headers["X-Request-Id"]
    status = client("coordinator").get(f"/runs/{run}", headers=starter).get_json()
    assert (status["startedBy"], status["cancelledBy"]) == ("ann", "bob")
    listed = client("coordinator").get("/runs", headers=starter).get_json()["runs"]
    assert listed[0]["startedBy"] == "ann"


def test_a_refusal_for_the_role_is_recorded_and_nothing_is_done(
    guarded: Harness, ticking_clock: Clock
) -> None:
    viewer = token_of("vic", "viewer")
    assert start(viewer).status_code == 403
    assert not guarded.publisher.published
    (record,) = audit("?who=vic")["records"]
    assert (record["operation"], record["state"], record["outcome"]["status"]) == (
        "startRun",
        "refused",
        403,
    )
    assert "operator" in record["outcome"]["detail"]


def test_a_repeated_start_is_recorded_as_a_replay_of_the_one_run(
    guarded: Harness, ticking_clock: Clock
) -> None:
    operator = token_of("ops", "operator")
    headers = {**operator, "Idempotency-Key": "k-1"}
    first, again = start(headers), start(headers)
    assert first.get_json()["runId"] == again.get_json()["runId"]
    records = audit(f"?run={first.get_json()['runId']}")["records"]
    assert [r["outcome"]["replayed"] for r in records] == [True, False]
    changes = [r for r in records if r["state"] == "done" and not r["outcome"]["replayed"]]
    assert len(changes) == 1


def test_every_state_changing_operation_is_audited_and_no_read_is(
    guarded: Harness, ticking_clock: Clock
) -> None:
    start(ADMIN)
    client("coordinator").get("/runs", headers=ADMIN)
    client("crm").post("/customers", json={"firstName": "Ada", "lastName": "L"}, headers=ADMIN)
    client("coordinator").post("/tokens/ann/revoke", headers=ADMIN)
    operations = [r["operation"] for r in audit()["records"]]
    assert operations == ["revokeToken", "createCustomer", "startRun"]
    assert {r["who"] for r in audit()["records"]} == {"BILLING_TOKEN"}


class Unwritable(AuditLog):
    """An audit trail S3 refuses to write: at its records, or only at their outcomes."""

    def __init__(self, outcomes_only: bool = False) -> None:
        self.outcomes_only = outcomes_only
        self.begun: list[AuditEntry] = []

    def begin(self, entry: AuditEntry) -> None:
        if not self.outcomes_only:
            raise StorageUnavailable("S3 is unavailable")
        self.begun.append(entry)

    def end(self, entry: AuditEntry, outcome: AuditOutcome) -> None:
        raise StorageUnavailable("S3 is unavailable")

    def page(self, query: AuditQuery) -> Page[AuditEntry]:
        return Page([], None)


def audit_with(harness: Harness, log: AuditLog) -> None:
    auditor = harness.services.auditor
    assert auditor is not None
    harness.services.__dict__["auditor"] = replace(auditor, audit=log)


def test_a_record_that_cannot_be_written_stops_the_request_before_anything_is_done(
    guarded: Harness, ticking_clock: Clock
) -> None:
    operator = token_of("ops", "operator")
    run = start(operator).get_json()["runId"]
    published = len(guarded.publisher.published)
    audit_with(guarded, Unwritable())
    refused = start(operator)
    assert refused.status_code == 503
    assert "nothing was done" in refused.get_json()["detail"]
    assert client("coordinator").post(f"/runs/{run}/cancel", headers=operator).status_code == 503
    assert len(guarded.publisher.published) == published
    status = client("coordinator").get(f"/runs/{run}", headers=operator).get_json()
    assert status["state"] != "cancelled"


def test_an_outcome_that_cannot_be_written_leaves_the_answer_and_the_record_without_one(
    guarded: Harness, ticking_clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    unwritable = Unwritable(outcomes_only=True)
    audit_with(guarded, unwritable)
    assert start(ADMIN).status_code == 202
    assert [entry.operation for entry in unwritable.begun] == ["startRun"]
    assert "its outcome is not audited" in caplog.text


def test_a_lambda_request_is_audited_as_one_on_functions_framework(
    guarded: Harness, ticking_clock: Clock
) -> None:
    adapter = HttpAdapter(HttpFunction("coordinator", lambda: guarded.services))
    body = json.dumps({"customerIdentifiers": ["1"]})
    headers = {**ADMIN, "content-type": "application/json"}
    answer = adapter(function_url_event("POST", "/", headers, body))
    assert answer["statusCode"] == 202
    (record,) = audit()["records"]
    assert record["requestId"] == answer["headers"]["X-Request-Id"]


def pages(query: str) -> Iterator[list[dict[str, Any]]]:
    after = ""
    while True:
        page = audit(f"{query}&after={after}" if after else query)
        yield page["records"]
        if page["next"] is None:
            return
        after = page["next"]


def test_the_audit_pages_newest_first_and_filters_by_who_and_time(
    guarded: Harness, ticking_clock: Clock
) -> None:
    ann, bob = token_of("ann", "operator"), token_of("bob", "operator")
    for index in range(7):
        start(ann if index % 2 else bob, (str(index),))
    every = [r for page in pages("?limit=3") for r in page]
    assert [r["operation"] for r in every] == ["startRun"] * 7 + ["createToken"] * 2
    assert [r["at"] for r in every] == sorted((r["at"] for r in every), reverse=True)
    assert len({r["id"] for r in every}) == 9
    anns = [r for page in pages("?who=ann&limit=2") for r in page]
    assert [r["who"] for r in anns] == ["ann"] * 3
    newest, oldest = (every[at]["at"][:19] + "Z" for at in (2, 4))
    window = [r for page in pages(f"?since={oldest}&until={newest}&limit=2") for r in page]
    assert [r["id"] for r in window] == [r["id"] for r in every[2:5]]


def test_a_page_of_the_audit_costs_a_listing_and_two_reads_a_record(
    s3_guarded: S3Harness,
) -> None:
    for index in range(5):
        start(ADMIN, (str(index),))
    before = s3_requests()
    assert len(audit("?limit=3")["records"]) == 3
    assert s3_requests() - before == 1 + 2 * 3


def test_a_start_costs_four_audit_writes_and_a_refusal_two(s3_guarded: S3Harness) -> None:
    assert start(ADMIN).status_code == 202  # the first builds what a start reads
    before = s3_requests()
    assert start(ADMIN).status_code == 202
    with_audit = s3_requests() - before
    s3_guarded.services.__dict__["auditor"] = None
    before = s3_requests()
    assert start(ADMIN).status_code == 202
    assert with_audit - (s3_requests() - before) == 4


def test_bad_audit_queries_are_refused_naming_the_parameter(guarded: Harness) -> None:
    for query, named in [
        ("?run=nope", "run"),
        ("?limit=0", "limit"),
        ("?after=../x", "after"),
        ("?who=a%00b", "who"),
        ("?since=yesterday", "since"),
    ]:
        answer = client("coordinator").get(f"/audit{query}", headers=ADMIN)
        assert answer.status_code == 400, query
        assert named in answer.get_json()["detail"], query


def test_without_a_tokens_bucket_no_audit_is_kept_and_its_listing_says_so(
    harness: Harness,
) -> None:
    assert start({}).status_code == 202
    answer = client("coordinator").get("/audit")
    assert answer.status_code == 501 and "TOKENS_BUCKET" in answer.get_json()["detail"]


def test_a_run_kafka_refused_then_published_by_another_names_the_one_who_published_it(
    guarded: Harness, ticking_clock: Clock
) -> None:
    ann, bob = token_of("ann", "operator"), token_of("bob", "operator")
    guarded.publisher.fail = True
    assert start({**ann, "Idempotency-Key": "k"}).status_code == 503
    guarded.publisher.fail = False
    published = start({**bob, "Idempotency-Key": "k"})
    assert published.status_code == 202
    run = published.get_json()["runId"]
    status = client("coordinator").get(f"/runs/{run}", headers=ann).get_json()
    assert status["startedBy"] == "bob"
    records = audit(f"?run={run}")["records"]
    assert [(r["who"], r["state"]) for r in records] == [("bob", "done")]
