"""GET /runs/<id>: counts and each customer's state, read from S3 at a cost that grows
with the run, not with everything else the buckets hold."""

from __future__ import annotations

from typing import Any

import pytest

from functions.context import FunctionContext
from functions.storage import Job, keys
from functions.wire.identifiers import WorkflowId
from tests.unit.harness import (
    Harness,
    S3Harness,
    client,
    s3_requests,
    seeding,
    start_run,
    write_bill,
)
from tests.unit.runs_by_hand import ids_of


def wait(context: FunctionContext, workflow_id: str, customer: str) -> Job:
    at = "2021-03-23T18:21:47.000Z"
    job = Job(WorkflowId(workflow_id), customer, at, at)
    context.new_jobs.create(job)
    return job


def status(run_id: str, query: str = "") -> dict[str, Any]:
    response = client("coordinator").get(f"/runs/{run_id}{query}")
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def test_a_run_tells_each_customers_state_bill_and_failure(harness: Harness) -> None:
    context = harness.services.context
    run = start_run(["1", "2", "3", "4"])
    ids = ids_of(run)
    write_bill(context, ids["1"], "1")
    unknown = "customer '2' is not known to the CRM"
    context.failures.record(wait(context, ids["2"], "2"), unknown, "t")
    wait(context, ids["3"], "3")

    body = status(run["runId"])
    assert body["counts"] == {"pending": 2, "billed": 1, "failed": 1}
    assert (body["total"], body["done"], body["published"]) == (4, False, True)
    by_customer = {c["customerIdentifier"]: c for c in body["customers"]}
    assert by_customer["1"]["state"] == "billed"
    assert by_customer["1"]["bill"] == f"{run['runId']}/customer-bill-1.txt"
    assert by_customer["2"] == {
        "customerIdentifier": "2",
        "workflowId": ids["2"],
        "state": "failed",
        "reason": "customer '2' is not known to the CRM",
    }
    assert (by_customer["3"]["state"], by_customer["3"]["asked"]) == ("pending", True)
    assert (by_customer["4"]["state"], by_customer["4"]["asked"]) == ("pending", False)

    assert [
        c["customerIdentifier"] for c in status(run["runId"], "?state=failed")["customers"]
    ] == ["2"]
    counts_only = status(run["runId"], "?customers=false")
    assert (counts_only["counts"]["failed"], counts_only["customers"]) == (1, [])
    write_bill(context, ids["3"], "3")
    write_bill(context, ids["4"], "4")
    context.answer_jobs.close(WorkflowId(ids["3"]))
    done = status(run["runId"], "?state=pending")
    assert (done["counts"]["pending"], done["done"], done["customers"]) == (0, True, [])


def test_a_run_kafka_refused_is_not_listed_and_its_key_publishes_it_later(
    harness: Harness,
) -> None:
    harness.publisher.fail = True
    key = {"Idempotency-Key": "k-1"}
    response = client("coordinator").post("/", json={"customerIdentifiers": ["1"]}, headers=key)
    assert response.status_code == 503
    jobs = harness.bucket(harness.services.settings.jobs_bucket)
    assert list(jobs.names(keys.RUNS_NEWEST_FIRST)) == []
    assert client("coordinator").get("/runs").get_json()["runs"] == []
    harness.publisher.fail = False
    again = client("coordinator").post("/", json={"customerIdentifiers": ["1"]}, headers=key)
    assert again.status_code == 202
    body = status(again.get_json()["runId"])
    assert (body["published"], body["done"], body["counts"]["pending"]) == (True, False, 1)


@pytest.mark.parametrize(
    ("path", "code", "complaint"),
    [
        ("/runs/run-20261128T001500-0a1b2c3d", 404, "there is no run"),
        ("/runs/not-a-run", 400, "is not a run id"),
        ("/runs/run-20261128T001500-0a1b2c3d?state=lost", 400, "use one of pending"),
        ("/runs/run-20261128T001500-0a1b2c3d?customers=no", 400, "use true or false"),
        ("/runs/run-20261128T001500-0a1b2c3d?stat=failed", 400, "unknown query parameter"),
        ("/runs/run-20261128T001500-0a1b2c3d/retry", 405, "POST"),
        ("/runs?limit=0", 400, "limit must be a whole number from 1 to 100"),
    ],
)
def test_asking_for_a_run_that_cannot_be_is_a_4xx(
    harness: Harness, path: str, code: int, complaint: str
) -> None:
    response = client("coordinator").get(path)
    assert response.status_code == code
    assert complaint in response.get_json()["detail"]


def test_a_runs_status_costs_listings_and_a_read_per_failure_not_a_read_per_customer(
    s3_harness: S3Harness,
) -> None:
    context, seeds = s3_harness.services.context, seeding(s3_harness)
    other = start_run([f"o{n}" for n in range(300)])
    for workflow in other["workflows"]:  # another run's bills must cost nothing
        write_bill(seeds, workflow["workflowId"], workflow["customerIdentifier"])
    customers = [f"c{n}" for n in range(1500)]
    run = start_run(customers)
    workflows = run["workflows"]
    for workflow in workflows[:1200]:
        write_bill(seeds, workflow["workflowId"], workflow["customerIdentifier"])
    with context.new_jobs.batch():  # as engine-start keeps them: a batch at a time
        asked = [
            wait(context, workflow["workflowId"], workflow["customerIdentifier"])
            for workflow in workflows[1200:1300]
        ]
    for job in asked[:5]:
        context.failures.record(job, "unknown", "t")

    before = s3_requests()
    body = status(run["runId"], "?limit=1500")  # every customer on one page
    spent = s3_requests() - before
    assert body["counts"] == {"billed": 1200, "failed": 5, "pending": 295}
    # the run; two pages of bills; the waiting batches listed and the new one read; one
    # page of failures; five failures; whether it was cancelled; its retries.
    assert spent == 1 + 2 + 1 + 1 + 1 + 5 + 1 + 1
    before = s3_requests()
    assert status(run["runId"], "?limit=1500") == body
    assert s3_requests() - before == spent - 1, "a batch already read is not read again"
