"""A run and its retries bill each customer once: a retry holds only failures no earlier
retry of the run holds, every bill of a lineage is named after its first run, and a retry
the previous version started, or whose publish or marker failed, still holds its
customers."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from botocore.exceptions import EndpointConnectionError

from functions.storage import IdempotencyRecord, Run, keys
from functions.triggered.engine_complete import engine_complete
from functions.triggered.engine_start import engine_start
from functions.wire.identifiers import WorkflowId
from functions.wire.messages import Answer, WorkflowMessage
from tests.unit.harness import (
    JOHN,
    Harness,
    S3Harness,
    client,
    s3_requests,
    seeding,
    start_run,
    write_bill,
)
from tests.unit.runs_by_hand import bill_every_published, fail, ids_of, published_workflows


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


def test_a_retry_costs_listings_not_a_read_per_failure(s3_harness: S3Harness) -> None:
    context = s3_harness.services.context
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


def test_the_failed_customers_of_a_run_cost_their_page_not_the_run(s3_harness: S3Harness) -> None:
    context = s3_harness.services.context
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


def test_a_retry_slot_whose_publish_failed_goes_out_before_a_later_slot(
    harness: Harness,
) -> None:
    """Once: only the latest slot was ever published again ("nothing new ->
    the same retry"). Slot 1 is created, Kafka refuses its publish (503);
    the run fails one more customer; the next retry takes slot 2. Slot 1's customer is
    held by a run that was never published and never will be: no retry of the run can
    reach it (it is "held"), and its own run has no failure to retry (409)."""
    context = harness.services.context
    coordinator = client("coordinator")
    run = start_run(["1", "2", "3"])
    ids = ids_of(run)
    fail(context, ids["1"], "1")
    harness.publisher.fail = True
    refused = coordinator.post(f"/runs/{run['runId']}/retry")
    assert refused.status_code == 503  # the client is told to ask again ...
    harness.publisher.fail = False
    fail(context, ids["2"], "2")  # ... and by then the run failed one more customer
    for _ in range(3):  # asked again, as often as you like
        assert coordinator.post(f"/runs/{run['runId']}/retry").status_code == 202
    retried = {
        w.customer_identifier
        for w in published_workflows(harness)
        if w.workflow_id.run_id != run["runId"]
    }
    assert retried == {"1", "2"}, f"customer 1 failed and no retry was published for it: {retried}"


def test_a_retry_that_sent_an_earlier_slot_out_answers_with_it_though_the_next_failed(
    s3_harness: S3Harness,
) -> None:
    """Found by the model at 100 sequences: slot 1's publish was refused (503); the run
    failed one more customer; the next retry published slot 1, then could not create slot
    2 (S3 away) and answered 503 "nothing was published" while Kafka had slot 1's run.
    Something went out, so the answer is a 202 naming it; slot 2 waits for the next ask."""
    context = s3_harness.services.context
    coordinator = client("coordinator")
    run = start_run(["1", "2", "3"])
    ids = ids_of(run)
    fail(context, ids["1"], "1")
    s3_harness.publisher.fail = True
    assert coordinator.post(f"/runs/{run['runId']}/retry").status_code == 503
    s3_harness.publisher.fail = False
    fail(context, ids["2"], "2")

    def no_second_slot(params: dict[str, Any], **_: Any) -> None:
        if params["Key"].startswith(f"retry-slots/{run['runId']}/000002"):
            raise EndpointConnectionError(endpoint_url="http://moto")

    before = len(s3_harness.publisher.published)
    s3_harness.s3.meta.events.register("before-parameter-build.s3.PutObject", no_second_slot)
    answer = coordinator.post(f"/runs/{run['runId']}/retry")
    s3_harness.s3.meta.events.unregister("before-parameter-build.s3.PutObject", no_second_slot)
    sent = published_workflows(s3_harness, since=before)
    assert sent, "slot 1's run went out"
    assert answer.status_code == 202, answer.get_json()
    assert answer.get_json()["runId"] == sent[0].workflow_id.run_id
    assert customers_of(answer.get_json()) == ["1"]
    assert customers_of(retry(run["runId"])) == ["2"], "asked again: slot 2"


def test_a_retry_the_previous_version_published_without_its_marker_holds_its_customers(
    harness: Harness,
) -> None:
    """Once: The previous version published a retry, then wrote its
    ``retries/<run>/<retry>.json`` marker; an S3 failure at that last write answered 503
    (asked again, the old version found the same retry by its ``retry:<run>:<digest>``
    claim and wrote the marker). coordinator._held_by_earlier_versions knows a legacy
    retry only by its marker, so the new version retries the same customer under the
    lineage's folder while the old retry bills it under its own."""
    context = harness.services.context
    runs = harness.services.runs
    run = start_run(["1", "2"])
    run_id = run["runId"]
    fail(context, ids_of(run)["1"], "1")
    # What the previous version left: its claim, its retry run published, no marker.
    legacy_id = "run-20200101T000000-0badc0de"
    digest = hashlib.sha256(json.dumps(["1"]).encode()).hexdigest()
    runs.claim(f"retry:{run_id}:{digest[:32]}", IdempotencyRecord(legacy_id, digest))
    runs.save(Run(legacy_id, "2020-01-01T00:00:00.000Z", ("1",), published=True, retry_of=run_id))
    legacy_workflow = WorkflowMessage.from_wire(
        {
            "workflow-type": "bill-generation",
            "workflow-id": f"{legacy_id}-1",
            "create-time": "",
            "payload": {"customerIdentifier": "1"},
        }
    )
    engine_start(legacy_workflow, context)  # its workflow was on Kafka before the upgrade
    engine_complete(Answer(legacy_workflow.workflow_id, JOHN), context)

    response = client("coordinator").post(f"/runs/{run_id}/retry")  # the operator, after
    assert response.status_code in (202, 409), response.get_json()
    if response.status_code == 202:
        bill_every_published(harness, {response.get_json()["runId"]})
    bills = [name for name in context.bills.names() if name.endswith("customer-bill-1.txt")]
    assert len(bills) == 1, f"customer 1 billed twice: {bills}"


def test_a_run_whose_failures_an_old_retry_holds_answers_with_that_retry(
    harness: Harness,
) -> None:
    """Once: A run whose failures are all held by a retry of the
    previous version (a marker, no slot): retry answers 409 "has no failed customer to
    retry" while its status counts them failed; the old version answered with that retry."""
    context = harness.services.context
    runs = harness.services.runs
    run = start_run(["1"])
    fail(context, ids_of(run)["1"], "1")
    legacy_id = "run-20200101T000000-0badc0de"
    runs.save(Run(legacy_id, "t", ("1",), published=True, retry_of=run["runId"]))
    runs.add_retry(run["runId"], legacy_id)
    response = client("coordinator").post(f"/runs/{run['runId']}/retry")
    status = client("coordinator").get(f"/runs/{run['runId']}").get_json()
    assert status["counts"]["failed"] == 1
    assert response.status_code == 202, response.get_json()
    assert response.get_json()["runId"] == legacy_id


def test_a_retrys_status_costs_its_lineage_bills_listing_no_more(s3_harness: S3Harness) -> None:
    """docs/guarantees.md: a retry's status lists its lineage's bills (its bills are named
    under the lineage's first run): a retry of 1 customer of a 3,000-customer run costs
    the 2 more pages of that listing than the same retry of a 1-customer run, no more."""
    context, seeds = s3_harness.services.context, seeding(s3_harness)

    def status_cost(size: int) -> float:
        customers = [f"c{size}-{n}" for n in range(size)]
        run = start_run(customers)
        ids = ids_of(run)
        for customer in customers[1:]:
            write_bill(seeds, ids[customer], customer)  # in place: no request
        fail(context, ids[customers[0]], customers[0])
        retried = client("coordinator").post(f"/runs/{run['runId']}/retry").get_json()
        client("coordinator").get(f"/runs/{retried['runId']}")  # batch objects read once
        before = s3_requests()
        client("coordinator").get(f"/runs/{retried['runId']}")
        return s3_requests() - before

    small, large = status_cost(1), status_cost(3000)
    assert large == small + 2, (
        f"a 1-customer retry's status: {small} requests, {large} in a big lineage"
    )


def test_a_retry_whose_marker_write_failed_is_listed_by_the_next_retry(
    s3_harness: S3Harness,
) -> None:
    """COSMETIC (the console and `billing runs show` lose the link). retries._publish
    writes ``retries/<run>/<retry>.json`` after publishing; an S3 failure there is a 202
    (Kafka has the retry; a 503 would say nothing was published). Asked again, the marker
    is written, even if the run failed more customers meanwhile and slot 2 is answered:
    slot 1's retry is listed in the run's "retries" all the same."""
    context = s3_harness.services.context
    run = start_run(["1", "2"])
    ids = ids_of(run)
    fail(context, ids["1"], "1")

    def no_marker(params: dict[str, Any], **_: Any) -> None:
        if params["Key"].startswith("retries/"):
            raise EndpointConnectionError(endpoint_url="http://moto")

    s3_harness.s3.meta.events.register("before-parameter-build.s3.PutObject", no_marker)
    first = client("coordinator").post(f"/runs/{run['runId']}/retry")
    s3_harness.s3.meta.events.unregister("before-parameter-build.s3.PutObject", no_marker)
    assert first.status_code == 202
    fail(context, ids["2"], "2")
    second = client("coordinator").post(f"/runs/{run['runId']}/retry").get_json()
    published = {w.workflow_id.run_id for w in published_workflows(s3_harness)} - {run["runId"]}
    listed = client("coordinator").get(f"/runs/{run['runId']}").get_json()["retries"]
    assert set(listed) == published, f"published retries {published}, listed {listed}"
    assert second["runId"] in listed


def test_a_retry_of_a_retry_bills_under_the_first_run_held(harness: Harness) -> None:
    """HELD (for contrast): a late bill of the first run and a retry of a retry make one
    bill of the customer in the lineage."""
    context = harness.services.context
    run = start_run(["1"])
    workflow_id = ids_of(run)["1"]
    fail(context, workflow_id, "1")
    first = client("coordinator").post(f"/runs/{run['runId']}/retry").get_json()
    fail(context, ids_of(first)["1"], "1")
    second = client("coordinator").post(f"/runs/{first['runId']}/retry").get_json()
    write_bill(context, workflow_id, "1")  # the first run's late bill
    bill_every_published(harness, {first["runId"], second["runId"]})
    assert len(list(context.bills.names())) == 1
