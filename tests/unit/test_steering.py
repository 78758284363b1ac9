"""Steering runs through the coordinator: list them, retry their failures, cancel one."""

from __future__ import annotations

from typing import Any

from functions.storage import CANCELLED, keys
from functions.triggered.engine_complete import engine_complete
from functions.triggered.engine_start import engine_start
from functions.wire.identifiers import WorkflowId
from functions.wire.messages import Answer
from tests.unit.harness import (
    JOHN,
    Harness,
    S3Harness,
    client,
    s3_requests,
    start_run,
    workflow,
    write_bill,
)
from tests.unit.runs_by_hand import fail, ids_of, published_workflows


def listed(query: str = "") -> dict[str, Any]:
    response = client("coordinator").get(f"/runs{query}")
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def test_runs_are_listed_newest_first_a_page_at_a_time(harness: Harness) -> None:
    context = harness.services.context
    runs = [start_run([str(n)]) for n in range(1, 6)]
    done = runs[0]
    write_bill(context, ids_of(done)["1"], "1")
    newest_first = sorted((run["runId"] for run in runs), key=keys.run_listing)

    first = client("coordinator").get("/runs?limit=3")
    body = first.get_json()
    assert [run["runId"] for run in body["runs"]] == newest_first[:3]
    assert body["next"] == newest_first[2]
    assert first.headers["Link"] == f'</runs?after={newest_first[2]}&limit=3>; rel="next"'
    rest = listed(f"?limit=3&after={body['next']}")
    assert [run["runId"] for run in rest["runs"]] == newest_first[3:]
    assert rest["next"] is None

    states = {run["runId"]: run for run in body["runs"] + rest["runs"]}
    assert states[done["runId"]]["state"] == "done"
    assert states[done["runId"]]["counts"] == {"pending": 0, "billed": 1, "failed": 0}
    assert {run["state"] for run in listed("?state=running")["runs"]} == {"running"}
    assert [run["runId"] for run in listed("?state=done")["runs"]] == [done["runId"]]


def test_a_page_of_finished_runs_costs_a_listing_and_a_read_each(s3_harness: S3Harness) -> None:
    context = s3_harness.services.context
    for n in range(25):
        run = start_run([f"c{n}", f"d{n}"])
        for customer, workflow_id in ids_of(run).items():
            write_bill(context, workflow_id, customer)
    listed("?limit=100")  # the first look finds them done and keeps their counts
    before = s3_requests()
    assert len(listed("?limit=20")["runs"]) == 20
    assert s3_requests() - before == 1 + 20, "one listing, then one read a run"


def test_the_runs_of_a_time_range(harness: Harness) -> None:
    start_run(["1"])
    assert len(listed("?since=2000-01-01")["runs"]) == 1
    assert listed("?until=2000-01-01")["runs"] == []
    assert listed("?since=2999-01-01T00:00:00Z")["runs"] == []
    refused = client("coordinator").get("/runs?since=yesterday")
    assert refused.status_code == 400
    assert "since='yesterday' is not a time" in refused.get_json()["detail"]


def test_retrying_a_run_bills_its_failed_customers_in_a_run_that_names_it(
    harness: Harness,
) -> None:
    context = harness.services.context
    run = start_run(["1", "2", "3"])
    ids = ids_of(run)
    write_bill(context, ids["1"], "1")
    fail(context, ids["2"], "2")
    fail(context, ids["3"], "3")

    coordinator = client("coordinator")
    retried = coordinator.post(f"/runs/{run['runId']}/retry")
    assert retried.status_code == 202, retried.get_json()
    retry = retried.get_json()
    assert retry["retryOf"] == run["runId"]
    assert [w["customerIdentifier"] for w in retry["workflows"]] == ["2", "3"]
    published = [outgoing.message.workflow_id.text for outgoing in harness.publisher.published]
    assert published[-2:] == [w["workflowId"] for w in retry["workflows"]]

    again = coordinator.post(f"/runs/{run['runId']}/retry")
    assert again.status_code == 202
    assert again.get_json()["runId"] == retry["runId"], "the same failures are retried once"
    assert again.headers["Idempotent-Replayed"] == "true"

    parent = coordinator.get(f"/runs/{run['runId']}").get_json()
    assert parent["retries"] == [retry["runId"]]
    child = coordinator.get(f"/runs/{retry['runId']}").get_json()
    assert child["retryOf"] == run["runId"]


def test_a_run_with_nothing_failed_is_not_retried(harness: Harness) -> None:
    run = start_run(["1"])
    refused = client("coordinator").post(f"/runs/{run['runId']}/retry")
    assert refused.status_code == 409
    assert refused.get_json()["detail"] == (
        f"run {run['runId']} has no failed customer to retry; 1 customer(s) are still pending"
    )
    unknown = client("coordinator").post("/runs/run-20261128T001500-0a1b2c3d/retry")
    assert unknown.status_code == 404


def test_a_cancelled_run_bills_no_more_and_its_pending_customers_fail_as_cancelled(
    harness: Harness,
) -> None:
    context = harness.services.context
    run = start_run(["1", "2", "3"])
    ids = ids_of(run)
    engine_start(workflow(ids["1"], "1"), context)
    engine_start(workflow(ids["2"], "2"), context)
    write_bill(context, ids["1"], "1")

    coordinator = client("coordinator")
    cancelled = coordinator.post(f"/runs/{run['runId']}/cancel")
    assert cancelled.status_code == 202, cancelled.get_json()
    body = cancelled.get_json()
    assert (body["state"], body["counts"]["billed"]) == ("cancelled", 1)
    again = coordinator.post(f"/runs/{run['runId']}/cancel").get_json()
    assert again["cancelledAt"] == body["cancelledAt"]

    engine_complete(Answer(WorkflowId(ids["2"]), JOHN), context)  # an answer after the cancel
    engine_start(workflow(ids["3"], "3"), context)  # a workflow still in line
    status = coordinator.get(f"/runs/{run['runId']}").get_json()
    assert status["counts"] == {"pending": 0, "billed": 1, "failed": 2}
    assert {c["customerIdentifier"]: c.get("reason") for c in status["customers"]} == {
        "1": None,
        "2": CANCELLED,
        "3": CANCELLED,
    }
    assert status["state"] == "cancelled"
    assert [r["state"] for r in listed()["runs"]] == ["cancelled"]


def test_a_done_run_cannot_be_cancelled(harness: Harness) -> None:
    context = harness.services.context
    run = start_run(["1"])
    write_bill(context, ids_of(run)["1"], "1")
    refused = client("coordinator").post(f"/runs/{run['runId']}/cancel")
    assert refused.status_code == 409
    assert "is done" in refused.get_json()["detail"]


def test_a_workflow_redelivered_after_its_bill_and_a_cancel_leaves_it_billed(
    harness: Harness,
) -> None:
    """Once: engine_start (and engine_complete
    for an answer) records a ``cancelled`` failure for a workflow of a cancelled run
    without looking for its bill; status.run_status now counts a failed workflow as failed
    whatever bill there is. So a workflow redelivered after it was billed (at least once:
    a restart before the commit) and after a cancel turns a billed customer into a failed
    one: the run's counts change, and the next retry bills the customer "again" (the
    lineage's name keeps it to one bill). docs/guarantees.md: "a run's counts never
    change once nothing of it is pending"; the cancel test: "every customer ends with
    exactly one of a bill or a cancelled failure"."""
    context = harness.services.context
    run = start_run(["1", "2"])
    first = published_workflows(harness)[0]
    engine_start(first, context)
    engine_complete(Answer(first.workflow_id, JOHN), context)
    assert client("coordinator").post(f"/runs/{run['runId']}/cancel").status_code == 202
    for redelivered in published_workflows(harness):  # customer 2's, then 1's again
        engine_start(redelivered, context)
    engine_start(first, context)
    status = client("coordinator").get(f"/runs/{run['runId']}").get_json()
    assert status["counts"] == {"pending": 0, "billed": 1, "failed": 1}, status["counts"]
