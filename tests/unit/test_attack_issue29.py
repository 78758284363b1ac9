"""ATTACK (review of issue 29): each test here demonstrates a defect found in review.

They FAIL on the code as reviewed; that is their point. Each names the defect, its
severity and where it lives; the review report (docs/review-issue-29-attack.md on branch
``attack``) gives the reproduction and the output. A fix makes its test pass unchanged.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlparse

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

from cli.api import CliError
from cli.batches import import_requests
from cli.bills import _bills as cli_bills
from cli.trace import workflow_of
from functions.context import FunctionContext
from functions.coordinator import Coordination
from functions.engine_complete import engine_complete
from functions.engine_start import engine_start
from functions.errors import PublishFailed
from functions.identifiers import WorkflowId
from functions.messages import Answer, WorkflowMessage
from functions.retry_unanswered import Tick, retry_unanswered
from functions.schedule import BillingSchedule
from functions.scheduled_billing import ScheduledBilling, bill_on_schedule
from functions.storage import IdempotencyRecord, Job, Run, StoredBill
from runtime.aws_lambda.http import HttpAdapter
from runtime.config import FunctionSettings
from runtime.http_function import HttpFunction
from runtime.kafka.invoker import Invoker
from runtime.kafka.records import Record
from runtime.triggers import BY_FUNCTION
from tests.unit.harness import JOHN, Harness, client, s3_requests, start_run, write_bill

ADA = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "city": "Delft",
    "connectionId": "1",
    "connectionMandate": "0",
}


def ids_of(run: dict[str, Any]) -> dict[str, str]:
    return {w["customerIdentifier"]: w["workflowId"] for w in run["workflows"]}


def fail(context: FunctionContext, workflow_id: str, customer: str) -> None:
    job = Job(WorkflowId(workflow_id), customer, "t", "t")
    context.failures.record(job, "the CRM did not answer", "t")


def published_workflows(harness: Harness) -> list[WorkflowMessage]:
    return [
        o.message for o in harness.publisher.published if isinstance(o.message, WorkflowMessage)
    ]


def bill_every_published(harness: Harness, run_ids: set[str]) -> None:
    """engine-start and engine-complete for every workflow published for ``run_ids``."""
    context = harness.services.context
    for workflow in published_workflows(harness):
        if workflow.workflow_id.run_id in run_ids:
            engine_start(workflow, context)
            engine_complete(Answer(workflow.workflow_id, JOHN), context)


def scheduler(harness: Harness, expression: str) -> ScheduledBilling:
    """A scheduler of ``expression`` (UTC, a day's catch-up) as the runtime builds one."""
    services = harness.services
    return ScheduledBilling(
        BillingSchedule.parse(expression, "UTC", 86400.0),
        Coordination(harness.publisher.publish, services.run_records),
        services.seeded_customers(),
        services.tick_plans,
    )


# -- retries ---------------------------------------------------------------------------


def test_defect_a_retry_slot_whose_publish_failed_is_lost_once_a_later_slot_exists(
    harness: Harness,
) -> None:
    """LOST. coordinator.retry_run/_retried: only the latest slot is ever published again
    ("nothing new -> the same retry"). Slot 1 is created, Kafka refuses its publish (503);
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


def test_defect_a_retry_the_previous_version_published_without_its_marker_is_billed_twice(
    harness: Harness,
) -> None:
    """BILLED TWICE (old data). The previous version published a retry, then wrote its
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
    if response.status_code == 202:
        bill_every_published(harness, {response.get_json()["runId"]})
    bills = [name for name in context.bills.names() if name.endswith("customer-bill-1.txt")]
    assert len(bills) == 1, f"customer 1 billed twice: {bills}"


def test_defect_a_run_whose_failures_an_old_retry_holds_says_it_has_no_failure(
    harness: Harness,
) -> None:
    """WRONG MESSAGE (old data). A run whose failures are all held by a retry of the
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
    assert (
        response.status_code == 202 or "no failed customer" not in response.get_json()["error"]
    ), response.get_json()


def test_defect_a_retrys_status_costs_its_lineage_not_itself(harness: Harness) -> None:
    """COST (docs/guarantees.md: "a cost that grows with the run only"). runs.run_status
    lists ``bills/<first run>/``, the whole lineage's bills, for every status of a retry
    (and the console polls it each second): a retry of 1 customer of a 3,000-customer
    run costs 3 more listings than the same retry of a 1-customer run."""
    context = harness.services.context

    def status_cost(size: int) -> float:
        customers = [f"c{size}-{n}" for n in range(size)]
        run = start_run(customers)
        ids = ids_of(run)
        for customer in customers[1:]:
            write_bill(context, ids[customer], customer)
        fail(context, ids[customers[0]], customers[0])
        retried = client("coordinator").post(f"/runs/{run['runId']}/retry").get_json()
        client("coordinator").get(f"/runs/{retried['runId']}")  # batch objects read once
        before = s3_requests()
        client("coordinator").get(f"/runs/{retried['runId']}")
        return s3_requests() - before

    small, large = status_cost(1), status_cost(3000)
    assert large == small, (
        f"a 1-customer retry's status: {small} requests, {large} in a big lineage"
    )


# -- ticks ------------------------------------------------------------------------------


def test_defect_a_tick_the_previous_version_claimed_but_never_published_is_never_billed(
    harness: Harness,
) -> None:
    """LOST (old data). scheduled_billing.bill_on_schedule / S3TickPlans
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


# -- the CRM ---------------------------------------------------------------------------


def test_defect_a_create_whose_answer_was_lost_stores_the_customer_twice(
    harness: Harness,
) -> None:
    """DOUBLED (a customer, so every later tick bills the person twice).
    S3CustomerStore.add_new: the customer's create (If-None-Match) reaches S3, its answer
    is lost (a read timeout, a 500 after the write); botocore tries it again, S3 answers
    412, ``add`` reads that as "id taken" and _add_one_new stores the same customer under
    a second id. One POST, one 201, two customers."""
    crm = client("crm")
    crm.get("/?customerId=1")  # the CRM's seed, first
    raw = boto3.client("s3", region_name="us-east-1")  # the same mock S3, another client
    lost: list[str] = []
    bodies: dict[str, bytes] = {}

    def keep_body(params: dict[str, Any], **_: Any) -> None:
        bodies[params["Key"]] = params["Body"]

    def store_then_lose_the_answer(request: Any, **_: Any) -> None:
        url = urlparse(request.url)
        headers = {name.lower(): value for name, value in request.headers.items()}
        if lost or request.method != "PUT" or headers.get("if-none-match") not in ("*", b"*"):
            return
        bucket = url.hostname.split(".")[0] if url.hostname else ""
        key = unquote(url.path.lstrip("/"))
        if not key.startswith("customers/"):
            return
        if "Contents" not in raw.list_objects_v2(Bucket=bucket, Prefix=key):
            raw.put_object(Bucket=bucket, Key=key, Body=bodies[key])  # the server wrote it
        lost.append(key)
        raise ReadTimeoutError(endpoint_url=request.url)  # ... and its answer never came

    harness.s3.meta.events.register("before-parameter-build.s3.PutObject", keep_body)
    harness.s3.meta.events.register("before-send.s3.PutObject", store_then_lose_the_answer)
    created = crm.post("/customers", json=ADA)
    harness.s3.meta.events.unregister("before-send.s3.PutObject", store_then_lose_the_answer)
    assert lost, "the create's answer was lost"
    assert created.status_code == 201
    listed = crm.get("/?limit=500")
    assert listed.status_code == 200, listed.get_json()
    adas = [c for c in listed.get_json() if c["lastName"] == "Lovelace"]
    assert len(adas) == 1, (
        f"one POST stored Ada {len(adas)} times: {[c['customerId'] for c in adas]}"
    )


def test_defect_a_finished_import_sent_again_after_an_update_says_it_is_written_in_part(
    harness: Harness,
) -> None:
    """WRONG MESSAGE that leads to a duplicate. crm_api._import: an import that finished
    long ago, sent again (the same CSV) after one of its new customers was updated,
    answers 409 "the import is written in part ... import those items again in a list of
    their own". Nothing was missing; doing as told stores that customer a second time."""
    crm = client("crm")
    crm.get("/?customerId=1")
    items = [ADA, ADA | {"firstName": "Grace", "lastName": "Hopper"}]
    first = crm.post("/customers", json=items)
    assert first.status_code == 201
    ada_id = first.get_json()[0]["customerId"]
    assert crm.post(f"/customers/{ada_id}", json={"city": "Leiden"}).status_code == 200
    again = crm.post("/customers", json=items)
    if again.status_code == 409:
        advice = again.get_json()["error"]
        assert "in part" not in advice, advice
        crm.post("/customers", json=[ADA])  # as the advice says
    adas = [c for c in crm.get("/?limit=500").get_json() if c["lastName"] == "Lovelace"]
    assert len(adas) == 1, f"Ada stored {len(adas)} times"


# -- bad input -------------------------------------------------------------------------

BIG = "9" * 5000  # an integer of more digits than Python's int() takes (4,300)


@pytest.mark.parametrize(
    ("function", "path", "body"),
    [
        ("coordinator", "/", f'{{"customerIdentifiers": [{BIG}]}}'),
        ("coordinator", "/", f'{{"customerIdentifiers": ["1"], "note": {BIG}}}'),
        (
            "crm",
            "/customers",
            f'{{"firstName": "A", "lastName": "B", "city": "C",'
            f' "connectionId": {BIG}, "connectionMandate": "0"}}',
        ),
        ("crm", "/customers/1", f'{{"city": {BIG}}}'),
        (
            "crm",
            "/customers",
            '{"firstName": "\\ud800", "lastName": "B", "city": "C",'
            ' "connectionId": "1", "connectionMandate": "0"}',
        ),
        (
            "crm",
            "/customers",
            '[{"firstName": "A", "lastName": "\\udfff", "city": "C",'
            ' "connectionId": "1", "connectionMandate": "0"}]',
        ),
    ],
)
def test_defect_a_body_python_cannot_hold_as_text_is_a_500(
    harness: Harness, function: str, path: str, body: str
) -> None:
    """5xx. functions/web.py HttpRequest.json catches JSONDecodeError, not the ValueError
    json.loads raises for an integer over 4,300 digits; crm_api lets a lone surrogate
    (valid JSON "\\ud800") through to keys.name_prefix's quote(), which cannot encode it."""
    response = client(function).post(path, data=body.encode(), content_type="application/json")
    assert 400 <= response.status_code < 500, (response.status_code, response.get_json())


@pytest.mark.parametrize(
    ("function", "raw"),
    [
        (
            "engine-start",
            b'{"workflow-type": "bill-generation", "workflow-id": '
            + BIG.encode()
            + b', "payload": {"customerIdentifier": "1"}}',
        ),
        ("engine-complete", b'{"qaIdentifier": "x", "n": ' + BIG.encode() + b"}"),
        ("crm-answer", b"[" * 100_000),
    ],
)
def test_defect_a_record_python_cannot_parse_stops_the_partition_instead_of_a_dead_letter(
    context: FunctionContext, unit_settings: FunctionSettings, function: str, raw: bytes
) -> None:
    """STUCK PARTITION (everything behind the record waits forever). messages
    .decode_object catches UnicodeDecodeError/JSONDecodeError only; json.loads raises
    ValueError (an integer over 4,300 digits) and RecursionError (deep nesting), which the
    Invoker lets out (it is outside _invoke's catch-all): invoke_batch raises, the worker
    stops without committing, and the same record stops the next one. The guarantee:
    "a record that is not JSON ... goes to <source topic>.dlq"."""
    invoke = Invoker(BY_FUNCTION[function], unit_settings, context, sleep=lambda _s: None)
    produced = invoke(Record(raw, "some-topic", 0, 1))
    assert [p.topic for p in produced] == ["some-topic.dlq"]


def test_defect_a_lambda_http_event_with_a_bad_base64_body_raises(harness: Harness) -> None:
    """5xx (Lambda invocation error, low: API Gateway sends valid base64). runtime
    .aws_lambda.http.request_of: base64.b64decode's binascii.Error is not caught."""
    adapter = HttpAdapter(HttpFunction("coordinator", lambda: harness.services))
    event = {
        "version": "2.0",
        "rawPath": "/",
        "rawQueryString": "",
        "headers": {"content-type": "application/json"},
        "requestContext": {"http": {"method": "POST", "path": "/"}},
        "body": "not base64!",
        "isBase64Encoded": True,
    }
    answer = adapter(event)
    assert answer["statusCode"] == 400


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


# -- the CLI and the docs ----------------------------------------------------------------


class HarnessApi:
    """The CLI's Api over the unit harness: the coordinator's test client, the bills' store."""

    def __init__(self, harness: Harness) -> None:
        self.context = harness.services.context

    def bills(self, prefix: str = "") -> Iterator[StoredBill]:
        return self.context.bills.listing(prefix)

    def run_status(self, run_id: str, state: str | None = None) -> dict[str, Any]:
        query = f"?state={state}" if state else ""
        answer: dict[str, Any] = client("coordinator").get(f"/runs/{run_id}{query}").get_json()
        return answer


def billed_by_a_retry(harness: Harness) -> tuple[str, str]:
    """A run whose customer 1 failed, and its retry that billed customer 1: their ids."""
    context = harness.services.context
    run = start_run(["1"])
    fail(context, ids_of(run)["1"], "1")
    retried = client("coordinator").post(f"/runs/{run['runId']}/retry").get_json()
    bill_every_published(harness, {retried["runId"]})
    return run["runId"], retried["runId"]


def test_defect_billing_trace_of_a_customer_billed_by_a_retry_fails(harness: Harness) -> None:
    """CLI BROKEN for lineage bills. cli/trace.workflow_of takes the bill's folder (the
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


def test_defect_billing_bills_ls_of_a_retry_shows_no_bill(harness: Harness) -> None:
    """CLI WRONG for lineage bills. cli/bills._bills lists ``<run id>/``: for a retry that
    billed its customer, `billing bills ls --run <retry>` prints "no bills"."""
    _, retry_id = billed_by_a_retry(harness)
    api: Any = HarnessApi(harness)
    listed = [bill.name for bill in cli_bills(api, None, retry_id)]
    assert listed, f"billing bills ls --run {retry_id}: no bills"


def test_defect_importing_the_same_file_again_with_another_batch_doubles_customers(
    harness: Harness,
) -> None:
    """DOUBLED (wrong advice). cli/customers.customers_import, on a failed request, says
    "import the same file again to finish it (every row gets the id it got the first time,
    none is stored twice)"; true only with the same --batch: the CRM knows an import by
    each request's content (crm_api._import's digest), and --batch cuts other requests."""
    crm = client("crm")
    crm.get("/?customerId=1")
    rows = [(n + 2, ADA | {"city": f"city-{n}"}) for n in range(4)]
    first_try = import_requests(rows, 2)  # `billing customers import f.csv --batch 2`
    assert crm.post("/customers", json=[v for _, v in first_try[0]]).status_code == 201
    # ... its second request failed; the file imported again, as told (default --batch):
    for request in import_requests(rows):
        assert crm.post("/customers", json=[v for _, v in request]).status_code == 201
    cities = [c["city"] for c in crm.get("/?limit=500").get_json() if c["lastName"] == "Lovelace"]
    assert sorted(cities) == [f"city-{n}" for n in range(4)], f"stored: {sorted(cities)}"


def test_defect_new_ids_pass_ten_to_the_twelve_after_an_id_just_below_it(
    harness: Harness,
) -> None:
    """WRONG DOC. docs/guarantees.md: "New customer ids stay below 10^12". IdBlocks
    .skip_past follows every given id below 10^12, so an imported 999999999999 moves the
    blocks past it and the next new id is 1000000000001."""
    crm = client("crm")
    crm.get("/?customerId=1")
    given = crm.post("/customers", json=[ADA | {"customerId": "999999999999"}])
    assert given.status_code == 201
    created = crm.post("/customers", json=ADA).get_json()
    assert int(created["customerId"]) < 10**12, created["customerId"]


def test_defect_a_tick_that_failed_is_abandoned_once_the_next_tick_is_due(
    harness: Harness,
) -> None:
    """LOST for that tick. scheduled_billing.bill_on_schedule starts only the latest due
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


def test_defect_a_retry_whose_marker_write_failed_is_not_listed_by_its_run(
    harness: Harness,
) -> None:
    """COSMETIC (the console and `billing runs show` lose the link). coordinator._retried
    writes ``retries/<run>/<retry>.json`` after publishing; an S3 failure there answers 503
    with the retry running. Asked again, the marker is written, unless the run failed more
    customers meanwhile: then slot 2 is answered, and slot 1's retry is never listed in
    the run's "retries" (it bills, but nobody sees where)."""
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
    assert first.status_code == 503
    fail(context, ids["2"], "2")
    second = client("coordinator").post(f"/runs/{run['runId']}/retry").get_json()
    published = {w.workflow_id.run_id for w in published_workflows(harness)} - {run["runId"]}
    listed = client("coordinator").get(f"/runs/{run['runId']}").get_json()["retries"]
    assert set(listed) == published, f"published retries {published}, listed {listed}"
    assert second["runId"] in listed


def test_the_sweep_neither_asks_nor_fails_a_retry_billed_under_its_lineage(
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
    for workflow in published_workflows(harness):
        if workflow.workflow_id.run_id == retried["runId"]:
            engine_start(workflow, started)
    for customer in customers:
        write_bill(context, ids[customer], customer)  # the first run's late bills
    later = now + timedelta(hours=2)
    questions = retry_unanswered(Tick(later), replace(context, clock=lambda: later))
    assert questions == []
    status = client("coordinator").get(f"/runs/{retried['runId']}").get_json()
    assert status["counts"] == {"pending": 0, "billed": 25, "failed": 0}


def test_defect_the_openapi_description_does_not_name_lineage(harness: Harness) -> None:
    """WRONG DOC. functions/openapi.py: a retry's 202 and every status of a run carry
    ``lineage`` (the run whose folder holds its bills; docs/interfaces.md names it), but
    the OpenAPI description served at /openapi.json names it nowhere."""
    schemas = client("coordinator").get("/openapi.json").get_json()["components"]["schemas"]
    described = {
        name: "lineage" in schemas[name]["properties"] for name in ("RunAccepted", "RunStatus")
    }
    assert all(described.values()), described


def test_defect_a_workflow_redelivered_after_its_bill_and_a_cancel_turns_billed_to_failed(
    harness: Harness,
) -> None:
    """WRONG COUNTS, and a retry of a billed customer. engine_start (and engine_complete
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
