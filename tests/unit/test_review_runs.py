"""What a review of issue 29 found, each kept as a test that once failed and passes
now; the ``..._held`` ones are attacks that held, kept so that they keep holding.

Runs, retries, ticks and what reads their bills (the sweep, the status, the CLI).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from cli.api import CliError
from cli.bills import bills_of
from cli.trace import workflow_of
from functions.engine_complete import engine_complete
from functions.engine_start import engine_start
from functions.errors import PublishFailed
from functions.identifiers import WorkflowId
from functions.messages import Answer, WorkflowMessage
from functions.retry_unanswered import Tick, retry_unanswered
from functions.scheduled_billing import bill_on_schedule
from functions.storage import IdempotencyRecord, Run
from tests.unit.harness import (
    JOHN,
    Harness,
    client,
    s3_requests,
    seeding,
    start_run,
    write_bill,
)
from tests.unit.review_world import (
    HarnessApi,
    bill_every_published,
    billed_by_a_retry,
    fail,
    ids_of,
    published_workflows,
    scheduler,
)


def test_a_retry_slot_whose_publish_failed_goes_out_before_a_later_slot(
    harness: Harness,
) -> None:
    """Found in review: only the latest slot was ever published again ("nothing new ->
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


def test_a_retry_the_previous_version_published_without_its_marker_holds_its_customers(
    harness: Harness,
) -> None:
    """Found in review: The previous version published a retry, then wrote its
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
    """Found in review: A run whose failures are all held by a retry of the
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


def test_a_retrys_status_costs_its_lineage_bills_listing_no_more(harness: Harness) -> None:
    """docs/guarantees.md: a retry's status lists its lineage's bills (its bills are named
    under the lineage's first run): a retry of 1 customer of a 3,000-customer run costs
    the 2 more pages of that listing than the same retry of a 1-customer run, no more."""
    context, seeds = harness.services.context, seeding(harness)

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
    harness: Harness,
) -> None:
    """COSMETIC (the console and `billing runs show` lose the link). retries._publish
    writes ``retries/<run>/<retry>.json`` after publishing; an S3 failure there is a 202
    (Kafka has the retry; a 503 would say nothing was published). Asked again, the marker
    is written, even if the run failed more customers meanwhile and slot 2 is answered:
    slot 1's retry is listed in the run's "retries" all the same."""
    context = harness.services.context
    run = start_run(["1", "2"])
    ids = ids_of(run)
    fail(context, ids["1"], "1")

    def no_marker(params: dict[str, Any], **_: Any) -> None:
        if params["Key"].startswith("retries/"):
            raise EndpointConnectionError(endpoint_url="http://moto")

    harness.s3.meta.events.register("before-parameter-build.s3.PutObject", no_marker)
    first = client("coordinator").post(f"/runs/{run['runId']}/retry")
    harness.s3.meta.events.unregister("before-parameter-build.s3.PutObject", no_marker)
    assert first.status_code == 202
    fail(context, ids["2"], "2")
    second = client("coordinator").post(f"/runs/{run['runId']}/retry").get_json()
    published = {w.workflow_id.run_id for w in published_workflows(harness)} - {run["runId"]}
    listed = client("coordinator").get(f"/runs/{run['runId']}").get_json()["retries"]
    assert set(listed) == published, f"published retries {published}, listed {listed}"
    assert second["runId"] in listed


def test_a_workflow_redelivered_after_its_bill_and_a_cancel_leaves_it_billed(
    harness: Harness,
) -> None:
    """Found in review: engine_start (and engine_complete
    for an answer) records a ``cancelled`` failure for a workflow of a cancelled run
    without looking for its bill; runs.run_status now counts a failed workflow as failed
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
    for workflow in published_workflows(harness):  # customer 2's, then 1's again
        engine_start(workflow, context)
    engine_start(first, context)
    status = client("coordinator").get(f"/runs/{run['runId']}").get_json()
    assert status["counts"] == {"pending": 0, "billed": 1, "failed": 1}, status["counts"]


def test_a_tick_the_previous_version_claimed_but_never_published_is_published(
    harness: Harness,
) -> None:
    """Found in review: scheduled_billing.bill_on_schedule / S3TickPlans
    .started_by_earlier_version: a tick whose ``schedule:<tick>:0`` claim and run the
    previous version wrote, but whose publish failed (Kafka down), is "left to it"; after
    the upgrade nothing runs that version, and the run is never published (nor are the
    tick's later pages planned). docs/guarantees.md: "a tick counts as handled only when
    every page is"."""
    tick = "2026-12-01T06:00 UTC"
    runs = harness.services.runs
    legacy_id = "run-20261201T060001-0badc0de"
    customers = ("1", "2", "3", "4", "5", "6", "7", "8")
    digest = hashlib.sha256(json.dumps(list(customers)).encode()).hexdigest()
    runs.claim(f"schedule:{tick}:0", IdempotencyRecord(legacy_id, digest))
    runs.save(Run(legacy_id, "2026-12-01T06:00:01.000Z", customers, scheduled_for=tick))
    billing = scheduler(harness, "0 6 1 * *")
    now = datetime(2026, 12, 1, 6, 0, 2, tzinfo=UTC)
    bill_on_schedule(now, billing)
    billed = {w.customer_identifier for w in published_workflows(harness)}
    assert billed == set(customers), f"the tick's customers published: {sorted(billed)}"


def test_a_tick_that_failed_is_finished_when_the_next_tick_is_due(
    harness: Harness,
) -> None:
    """Found in review: scheduled_billing.bill_on_schedule starts only the latest due
    tick: the 06:00 tick planned its page and Kafka refused the publish; at 07:00 the
    scheduler starts 07:00 and never publishes 06:00's planned run, which stays listed as
    a running run that will never run. docs/guarantees.md: "every page is published from
    its plan ... a tick counts as handled only when every page is". (The model test hides
    this: its ``settle`` calls bill_on_schedule at the missed tick's own time, which the
    runtime never does once a later tick is due.)"""
    billing = scheduler(harness, "0 * * * *")
    harness.publisher.fail = True
    with pytest.raises(PublishFailed):
        bill_on_schedule(datetime(2026, 12, 1, 6, 0, 2, tzinfo=UTC), billing)
    harness.publisher.fail = False
    for minute in range(1, 60, 10):  # the scheduler checks on, Kafka back
        bill_on_schedule(datetime(2026, 12, 1, 7, minute, 0, tzinfo=UTC), billing)
    ticks = {
        run["scheduledFor"]: run["published"]
        for run in (
            client("coordinator").get(f"/runs/{r['runId']}").get_json()
            for r in client("coordinator").get("/runs?limit=100").get_json()["runs"]
        )
    }
    assert ticks == {"2026-12-01T06:00 UTC": True, "2026-12-01T07:00 UTC": True}, ticks


def test_the_sweep_neither_asks_nor_fails_a_retry_billed_under_its_lineage_held(
    harness: Harness,
) -> None:
    """HELD: a retry of 25 customers (more than the sweep reads one by one), each billed
    under the lineage's folder by the first run's late answers: the sweep asks nothing
    again and fails nothing."""
    context = harness.services.context
    customers = [str(n) for n in range(1, 26)]
    run = start_run(customers)
    ids = ids_of(run)
    for customer in customers:
        fail(context, ids[customer], customer)
    retried = client("coordinator").post(f"/runs/{run['runId']}/retry").get_json()
    now = datetime.now(UTC)
    started = replace(context, clock=lambda: now)
    retry_workflows = [
        workflow
        for workflow in published_workflows(harness)
        if workflow.workflow_id.run_id == retried["runId"]
    ]
    assert len(retry_workflows) == 25
    for workflow in retry_workflows:
        engine_start(workflow, started)
    for customer in customers:
        write_bill(context, ids[customer], customer)  # the first run's late bills
    later = now + timedelta(hours=2)
    questions = retry_unanswered(Tick(later), replace(context, clock=lambda: later))
    assert questions == []
    status = client("coordinator").get(f"/runs/{retried['runId']}").get_json()
    assert status["counts"] == {"pending": 0, "billed": 25, "failed": 0}


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


def test_billing_trace_of_a_customer_billed_by_a_retry_finds_the_retry(harness: Harness) -> None:
    """Found in review: cli/trace.workflow_of takes the bill's folder (the
    lineage's first run) for the run that wrote it and looks for the customer among that
    run's billed ones; the first run counts the customer failed, so `billing trace 1`
    says "run ... does not list customer 1". The bill's metadata names its workflow."""
    _, retry_id = billed_by_a_retry(harness)
    api: Any = HarnessApi(harness)
    try:
        workflow = workflow_of(api, "1")
    except CliError as exc:
        pytest.fail(f"billing trace 1: {exc}")
    assert WorkflowId(workflow).run_id == retry_id


def test_billing_bills_ls_of_a_retry_shows_its_bill(harness: Harness) -> None:
    """Found in review: cli/bills.bills_of listed ``<run id>/``: for a retry that
    billed its customer, `billing bills ls --run <retry>` prints "no bills"."""
    _, retry_id = billed_by_a_retry(harness)
    api: Any = HarnessApi(harness)
    listed = [bill.name for bill in bills_of(api, None, retry_id)]
    assert listed, f"billing bills ls --run {retry_id}: no bills"


def test_the_openapi_description_names_lineage(harness: Harness) -> None:
    """Found in review: a retry's 202 and every status of a run carry ``lineage`` (the
    run whose folder holds its bills), but the OpenAPI description named it nowhere."""
    schemas = client("coordinator").get("/openapi.json").get_json()["components"]["schemas"]
    described = {
        name: "lineage" in schemas[name]["properties"] for name in ("RunAccepted", "RunStatus")
    }
    assert all(described.values()), described
