"""A run and its retries bill each customer once: a retry holds only failures no earlier
retry of the run holds, and every bill of a lineage is named after its first run."""

from __future__ import annotations

from typing import Any

from functions.context import FunctionContext
from functions.engine_complete import engine_complete
from functions.engine_start import engine_start
from functions.identifiers import WorkflowId
from functions.messages import Answer, WorkflowMessage
from functions.storage import Job, keys
from tests.unit.harness import JOHN, Harness, client, s3_requests, start_run, write_bill


def ids_of(run: dict[str, Any]) -> dict[str, str]:
    return {w["customerIdentifier"]: w["workflowId"] for w in run["workflows"]}


def fail(context: FunctionContext, workflow_id: str, customer: str) -> None:
    job = Job(WorkflowId(workflow_id), customer, "t", "t")
    context.failures.record(job, f"customer {customer!r} is not known to the CRM", "t")


def retry(run_id: str) -> dict[str, Any]:
    response = client("coordinator").post(f"/runs/{run_id}/retry")
    assert response.status_code == 202, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def customers_of(run: dict[str, Any]) -> list[str]:
    return [w["customerIdentifier"] for w in run["workflows"]]


def test_a_second_retry_holds_only_the_failures_since_the_first(harness: Harness) -> None:
    context = harness.services.context
    run = start_run(["1", "2", "3"])
    ids = ids_of(run)
    fail(context, ids["1"], "1")
    first = retry(run["runId"])
    assert customers_of(first) == ["1"]
    assert retry(run["runId"])["runId"] == first["runId"], "nothing new: the same retry"

    fail(context, ids["2"], "2")  # the run went on failing (a cancel settling, say)
    second = retry(run["runId"])
    assert customers_of(second) == ["2"], "customer 1 is the first retry's"
    assert second["runId"] != first["runId"]
    assert client("coordinator").get(f"/runs/{run['runId']}").get_json()["retries"] == sorted(
        [first["runId"], second["runId"]]
    )


def test_a_retrys_bill_is_named_after_the_first_run_of_its_lineage(harness: Harness) -> None:
    context = harness.services.context
    run = start_run(["1"])
    fail(context, ids_of(run)["1"], "1")
    first = retry(run["runId"])
    assert first["lineage"] == run["runId"]
    fail(context, ids_of(first)["1"], "1")
    second = retry(first["runId"])  # a retry of the retry keeps the lineage
    assert (second["retryOf"], second["lineage"]) == (first["runId"], run["runId"])

    workflow = harness.publisher.published[-1].message
    assert isinstance(workflow, WorkflowMessage)
    assert workflow.payload == {"customerIdentifier": "1", "lineage": run["runId"]}
    engine_start(workflow, context)
    engine_complete(Answer(workflow.workflow_id, JOHN), context)
    assert list(context.bills.names()) == [f"{run['runId']}/customer-bill-1.txt"]
    status = client("coordinator").get(f"/runs/{second['runId']}").get_json()
    assert status["customers"][0]["state"] == "billed"
    assert status["customers"][0]["bill"] == f"{run['runId']}/customer-bill-1.txt"
    bill = client("coordinator").get(f"/runs/{second['runId']}/bills/1")
    assert bill.status_code == 200
    parent = client("coordinator").get(f"/runs/{run['runId']}").get_json()
    assert parent["counts"] == {"pending": 0, "billed": 0, "failed": 1}, "its own outcome"


def test_a_late_bill_of_the_run_and_its_retry_make_one_bill(harness: Harness) -> None:
    context = harness.services.context
    run = start_run(["1"])
    workflow_id = ids_of(run)["1"]
    fail(context, workflow_id, "1")  # failed as cancelled while an answer was in flight ...
    retried = retry(run["runId"])
    write_bill(context, workflow_id, "1")  # ... whose batch then wrote the bill
    workflow = harness.publisher.published[-1].message
    assert isinstance(workflow, WorkflowMessage)
    engine_start(workflow, context)
    engine_complete(Answer(workflow.workflow_id, JOHN), context)
    assert list(context.bills.names()) == [keys.bill_name("1", WorkflowId(workflow_id))]
    status = client("coordinator").get(f"/runs/{retried['runId']}").get_json()
    assert status["counts"] == {"pending": 0, "billed": 1, "failed": 0}


def test_a_retry_costs_listings_not_a_read_per_failure(harness: Harness) -> None:
    context = harness.services.context
    run = start_run([f"c{n}" for n in range(300)])
    for customer, workflow_id in ids_of(run).items():
        fail(context, workflow_id, customer)
    before = s3_requests()
    retried = retry(run["runId"])
    spent = s3_requests() - before
    assert len(retried["workflows"]) == 300
    # The run; its failures listed; its slots and retries listed; an earlier version's
    # claim for these failures looked for; the slot created; the retry's run looked for,
    # saved (with its newest-first entry), saved as published; the retry's entry under it.
    assert spent == 1 + 1 + 2 + 1 + 1 + 1 + 2 + 1 + 1


def test_a_retry_whose_publishing_failed_is_published_before_the_next(harness: Harness) -> None:
    context = harness.services.context
    run = start_run(["1", "2"])
    ids = ids_of(run)
    fail(context, ids["1"], "1")
    harness.publisher.fail = True
    refused = client("coordinator").post(f"/runs/{run['runId']}/retry")
    assert refused.status_code == 503, "its slot holds customer 1, its run is not out"
    harness.publisher.fail = False
    fail(context, ids["2"], "2")
    second = retry(run["runId"])
    assert customers_of(second) == ["2"]
    published = {
        message.payload["customerIdentifier"]
        for message in (o.message for o in harness.publisher.published)
        if isinstance(message, WorkflowMessage) and message.workflow_id.run_id != run["runId"]
    }
    assert published == {"1", "2"}, "customer 1's retry went out before customer 2's"


def test_the_failed_customers_of_a_run_cost_their_page_not_the_run(harness: Harness) -> None:
    context = harness.services.context
    run = start_run([f"c{n}" for n in range(300)])
    for customer, workflow_id in ids_of(run).items():
        fail(context, workflow_id, customer)
    before = s3_requests()
    page = client("coordinator").get(f"/runs/{run['runId']}?state=failed&limit=20").get_json()
    spent = s3_requests() - before
    assert [c["customerIdentifier"] for c in page["customers"]] == [f"c{n}" for n in range(20)]
    assert page["next"] == 20
    # The run; its bills, failures and waiting batches listed; a read of each failure shown;
    # whether it was cancelled; its retries; and, nothing of it pending, its counts kept.
    assert spent == 1 + 1 + 1 + 1 + 20 + 1 + 1 + 1
