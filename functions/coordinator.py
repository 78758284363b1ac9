"""coordinator: an HTTP function that starts billing runs and tells how far they are.

``POST / {"customerIdentifiers": ["1", "3"]}`` puts one ``bill-generation`` workflow
message per customer on ``workflow-queue`` and answers ``202`` with the run id once
Kafka has acknowledged every one of them; if it cannot, it answers 503 and none is
delivered. ``GET /runs/<run id>[?state=failed]`` counts the run's pending, billed and
failed workflows and says, per customer, where its bill lies or why it failed.

With an ``Idempotency-Key`` header, a repeated request returns the run the first one
started (publishing it again if the first never finished) instead of starting another.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from functions.context import iso_millis, utc_now
from functions.errors import InvalidRequest, NotFound
from functions.identifiers import CUSTOMER_ID_RULE, is_customer_id
from functions.log_context import about_run
from functions.messages import Outgoing, Stream
from functions.run_list import RunQuery
from functions.runs import (
    MAX_RUN_SIZE,
    STATES,
    BillingRun,
    CustomerPage,
    RunRecords,
    is_run_id,
    new_run_id,
    plan,
    run_status,
)
from functions.storage import CustomerStore, IdempotencyRecord, Run
from functions.storage.keys import bill_file, bills_of_run
from functions.web import HttpRequest, HttpResponse, Route

log = logging.getLogger(__name__)

FIELD = "customerIdentifiers"
MAX_CUSTOMERS_PER_RUN = MAX_RUN_SIZE
USAGE = 'POST a JSON body like {"customerIdentifiers": ["1", "3"]}'
IDEMPOTENCY_HEADER = "idempotency-key"
MAX_IDEMPOTENCY_KEY = 255

# Publishes the messages in one transaction, committed only if the step (second) returns.
Publish = Callable[[Sequence[Outgoing], Callable[[], None]], None]


def parse_customer_identifiers(body: Any) -> list[str]:
    if not isinstance(body, dict):
        raise InvalidRequest(f"the request body must be a JSON object; {USAGE}")
    if FIELD not in body:
        if "customerIdentifers" in body:
            raise InvalidRequest(f'unknown field "customerIdentifers"; did you mean "{FIELD}"?')
        raise InvalidRequest(f'the request body has no "{FIELD}" field; {USAGE}')
    identifiers = body[FIELD]
    if not isinstance(identifiers, list) or not identifiers:
        raise InvalidRequest(f'"{FIELD}" must be a non-empty array of strings; {USAGE}')
    if len(identifiers) > MAX_CUSTOMERS_PER_RUN:
        raise InvalidRequest(
            f'"{FIELD}" names {len(identifiers)} customers; split the run into requests of'
            f" at most {MAX_CUSTOMERS_PER_RUN}",
            status=413,
        )
    customer_ids: list[str] = []
    seen: dict[str, int] = {}
    for position, identifier in enumerate(identifiers):
        if not isinstance(identifier, str):
            hint = f' (write it as "{identifier}")' if isinstance(identifier, int) else ""
            raise InvalidRequest(
                f'"{FIELD}"[{position}] must be a string, got {json.dumps(identifier)}{hint}'
            )
        if not is_customer_id(identifier):
            raise InvalidRequest(
                f'"{FIELD}"[{position}] is {identifier!r}, which is not a customer id'
                f" ({CUSTOMER_ID_RULE})"
            )
        if identifier in seen:
            raise InvalidRequest(
                f'"{FIELD}"[{position}] repeats customer {identifier!r} of position'
                f" {seen[identifier]}; list each customer once"
            )
        seen[identifier] = position
        customer_ids.append(identifier)
    return customer_ids


@dataclass(frozen=True)
class Coordination:
    """What the coordinator touches: Kafka to publish runs, S3 to record and follow them."""

    publish: Publish
    records: RunRecords
    clock: Callable[[], datetime] = utc_now
    make_run_id: Callable[[], str] = new_run_id


def _known_run(stores: Coordination, run_id: str) -> Run:
    if not is_run_id(run_id):
        raise InvalidRequest(f"{run_id!r} is not a run id (like run-20261127T200347-1f2e3d4c)")
    run = stores.records.runs.get(run_id)
    if run is None:
        raise NotFound(f"there is no run {run_id!r}")
    return run


def show_run(request: HttpRequest, stores: Coordination, run_id: str) -> HttpResponse:
    state = request.query.get("state")
    if state is not None and state not in STATES:
        raise InvalidRequest(f"state={state!r}; use one of {', '.join(STATES)}")
    customers = request.query.get("customers", "true")
    if customers not in ("true", "false"):
        raise InvalidRequest(f"customers={customers!r}; use true or false")
    page = CustomerPage(
        after=_whole_number(request.query, "after", 0, MAX_RUN_SIZE, 0),
        limit=_whole_number(request.query, "limit", 1, MAX_RUN_SIZE, MAX_RUN_SIZE),
    )
    run = _known_run(stores, run_id)
    return HttpResponse(200, run_status(run, stores.records, state, customers == "true", page))


def _whole_number(query: Mapping[str, str], name: str, least: int, most: int, default: int) -> int:
    text = query.get(name, str(default))
    if not text.isdigit() or not least <= int(text) <= most:
        raise InvalidRequest(f"{name} must be a whole number from {least} to {most}, got {text!r}")
    return int(text)


def start_run(request: HttpRequest, stores: Coordination) -> HttpResponse:
    customer_ids = parse_customer_identifiers(request.json())
    idempotency_key = request.headers.get(IDEMPOTENCY_HEADER)
    if idempotency_key is not None:
        _check_idempotency_key(idempotency_key)
    return _start(customer_ids, idempotency_key, stores)


def _start(
    customer_ids: list[str],
    idempotency_key: str | None,
    stores: Coordination,
    retry_of: str | None = None,
    scheduled_for: str | None = None,
) -> HttpResponse:
    runs = stores.records.runs
    if idempotency_key is None:
        run = Run(stores.make_run_id(), iso_millis(stores.clock()), tuple(customer_ids))
        return _publish(run, stores, saved=False)

    digest = hashlib.sha256(json.dumps(customer_ids).encode()).hexdigest()
    claimed = runs.claim(idempotency_key, IdempotencyRecord(stores.make_run_id(), digest))
    if claimed.request_digest != digest:
        raise InvalidRequest(
            f"Idempotency-Key {idempotency_key!r} started run {claimed.run_id} for other"
            " customers; use a new key for a new run",
            status=422,
        )
    stored = runs.get(claimed.run_id)
    if stored is not None and stored.published:
        log.info("billing run %s: repeated request, answered with the first", stored.run_id)
        return _accepted(plan(stored), replayed=True)
    if stored is None:
        created = iso_millis(stores.clock())
        run = Run(
            claimed.run_id,
            created,
            tuple(customer_ids),
            retry_of=retry_of,
            scheduled_for=scheduled_for,
        )
        return _publish(run, stores, saved=False)
    return _publish(stored, stores, saved=True)


def start_scheduled_runs(tick: str, stores: Coordination, customers: CustomerStore) -> list[str]:
    """Runs of every customer of the CRM for the schedule's tick ``tick`` names, 10,000 a
    run, in the CRM's id order. Each run's identity is the tick's and its page's, so a tick
    asked again, by a restart or a second scheduler, starts nothing new."""
    run_ids: list[str] = []
    after, number = "", 0
    while True:
        page = customers.id_page(after, MAX_CUSTOMERS_PER_RUN)
        if not page.items:
            return run_ids
        key = f"schedule:{tick}:{number}"
        try:
            response = _start(page.items, key, stores, scheduled_for=tick)
        except InvalidRequest as exc:  # another scheduler read the CRM as it changed
            log.warning("schedule %s: page %d started elsewhere (%s)", tick, number, exc)
        else:
            run_ids.append(response.body["runId"])
        if page.next_after is None:
            return run_ids
        after, number = page.next_after, number + 1


def retry_run(request: HttpRequest, stores: Coordination, run_id: str) -> HttpResponse:
    """A run of the failed customers of ``run_id``. The same failures are retried once: a
    second request, during the retry or after it, answers with the same run (retry the
    retry for what failed again)."""
    run = _known_run(stores, run_id)
    status = run_status(run, stores.records, state="failed")
    failed = [customer["customerIdentifier"] for customer in status["customers"]]
    if not failed:
        pending = status["counts"]["pending"]
        waiting = f"; {pending} customer(s) are still pending" if pending else ""
        raise InvalidRequest(f"run {run_id} has no failed customer to retry{waiting}", status=409)
    # The retry's identity is its parent and the failures it retries.
    digest = hashlib.sha256(json.dumps(failed).encode()).hexdigest()[:32]
    response = _start(failed, f"retry:{run_id}:{digest}", stores, retry_of=run_id)
    retry_id = response.body["runId"]
    stores.records.runs.add_retry(run_id, retry_id)
    log.info("billing run %s: %d failed customer(s) retried by %s", run_id, len(failed), retry_id)
    return replace(response, body={**response.body, "retryOf": run_id})


def cancel_run(request: HttpRequest, stores: Coordination, run_id: str) -> HttpResponse:
    """Cancel a run: its bills stay, every job still pending fails as ``cancelled``. Again
    on a cancelled run, the same answer."""
    run = _known_run(stores, run_id)
    counts = run_status(run, stores.records, with_customers=False)
    if counts["state"] == "done":
        raise InvalidRequest(
            f"run {run_id} is done: every customer has a bill or a failure; nothing to cancel",
            status=409,
        )
    with about_run(run_id):
        at = stores.records.cancellations.cancel(run_id, iso_millis(stores.clock()))
        log.info("billing run %s: cancelled at %s", run_id, at)
    # The cancel changes the run's state, not its counts: no second look at them.
    cancelled = {key: value for key, value in counts.items() if key != "customers"}
    return HttpResponse(202, {**cancelled, "state": "cancelled", "cancelledAt": at})


def show_bill(
    request: HttpRequest, stores: Coordination, run_id: str, customer_id: str
) -> HttpResponse:
    """The text of the bill ``run_id`` wrote for ``customer_id``, as the bill object holds it."""
    if not is_run_id(run_id):
        raise InvalidRequest(f"{run_id!r} is not a run id (like run-20261127T200347-1f2e3d4c)")
    if not is_customer_id(customer_id):
        raise InvalidRequest(f"{customer_id!r} is not a customer id ({CUSTOMER_ID_RULE})")
    name = f"{bills_of_run(run_id)}{bill_file(customer_id)}"
    text = stores.records.bills.text(name)
    if text is None:
        raise NotFound(f"run {run_id} has no bill for customer {customer_id!r} (yet)")
    disposition = f'inline; filename="{bill_file(customer_id)}"'
    return HttpResponse(
        200,
        text,
        {"Content-Type": "text/plain; charset=utf-8", "Content-Disposition": disposition},
    )


def list_runs(request: HttpRequest, stores: Coordination) -> HttpResponse:
    query = RunQuery.parse(request.query)
    page = query.page(stores.records)
    headers = {}
    if page.next_after is not None:
        headers["Link"] = f'<{query.next_path(page.next_after)}>; rel="next"'
    return HttpResponse(200, {"runs": page.items, "next": page.next_after}, headers)


def _check_idempotency_key(key: str) -> None:
    if not 0 < len(key) <= MAX_IDEMPOTENCY_KEY or not key.isprintable() or not key.isascii():
        raise InvalidRequest(
            f"the Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} printable ASCII"
            " characters, such as a UUID"
        )


def _publish(run: Run, stores: Coordination, *, saved: bool) -> HttpResponse:
    """Publish the run's workflows. A run not ``saved`` yet is saved while they are on their
    way, and no reader sees one unless the save succeeded: every workflow has its run."""
    planned = plan(run)

    def save() -> None:
        if not saved:
            stores.records.runs.save(run)

    with about_run(run.run_id):
        messages = [Outgoing(Stream.WORKFLOWS, workflow) for workflow in planned.workflows]
        stores.publish(messages, save)
        stores.records.runs.save(replace(run, published=True))
        count = len(planned.workflows)
        log.info("billing run %s: %d workflow(s) acknowledged by Kafka", run.run_id, count)
    return _accepted(planned, replayed=False)


def _accepted(planned: BillingRun, replayed: bool) -> HttpResponse:
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    return HttpResponse(202, planned.summary(), headers)


# What the coordinator answers; its OpenAPI document is built from this (functions/openapi.py).
ROUTES = (
    Route("POST", "/", "startRun", start_run),
    Route("GET", "/runs", "listRuns", list_runs),
    Route("GET", "/runs/{runId}", "getRun", show_run),
    Route("POST", "/runs/{runId}/retry", "retryRun", retry_run),
    Route("POST", "/runs/{runId}/cancel", "cancelRun", cancel_run),
    Route("GET", "/runs/{runId}/bills/{customerId}", "getBill", show_bill),
)
