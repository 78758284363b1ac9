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
from typing import Any

from functions import query, retries
from functions.context import iso_millis
from functions.errors import InvalidRequest, NotFound
from functions.identifiers import CUSTOMER_ID_RULE, is_customer_id, is_run_id
from functions.log_context import about_run
from functions.run_list import RunQuery
from functions.run_starter import Coordination, publish_once
from functions.runs import MAX_RUN_SIZE, STATES, CustomerPage, run_status
from functions.storage import IdempotencyRecord, Run
from functions.storage.keys import bill_file, bills_of_run
from functions.web import HttpRequest, HttpResponse, Route

log = logging.getLogger(__name__)

FIELD = "customerIdentifiers"
MAX_CUSTOMERS_PER_RUN = MAX_RUN_SIZE
USAGE = 'POST a JSON body like {"customerIdentifiers": ["1", "3"]}'
IDEMPOTENCY_HEADER = "idempotency-key"
MAX_IDEMPOTENCY_KEY = 255
CUSTOMERS_A_PAGE = 1_000  # a run's customers shown unless a limit is given


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


def _known_run(stores: Coordination, run_id: str) -> Run:
    if not is_run_id(run_id):
        raise InvalidRequest(f"{run_id!r} is not a run id (like run-20261127T200347-1f2e3d4c)")
    run = stores.records.runs.get(run_id)
    if run is None:
        raise NotFound(f"there is no run {run_id!r}")
    return run


def show_run(request: HttpRequest, stores: Coordination, run_id: str) -> HttpResponse:
    state = query.one_of(request.query, "state", STATES)
    customers = query.flag(request.query, "customers", default=True)
    page = CustomerPage(
        after=query.whole_number(request.query, "after", 0, MAX_RUN_SIZE, 0),
        limit=query.whole_number(request.query, "limit", 1, MAX_RUN_SIZE, CUSTOMERS_A_PAGE),
    )
    run = _known_run(stores, run_id)
    return HttpResponse(200, run_status(run, stores.records, state, customers, page))


def start_run(request: HttpRequest, stores: Coordination) -> HttpResponse:
    customer_ids = parse_customer_identifiers(request.json())
    idempotency_key = request.headers.get(IDEMPOTENCY_HEADER)
    if idempotency_key is None:
        run = Run(stores.make_run_id(), iso_millis(stores.clock()), tuple(customer_ids))
        return publish_once(run, stores)
    _check_idempotency_key(idempotency_key)
    digest = hashlib.sha256(json.dumps(customer_ids).encode()).hexdigest()
    claimed = stores.records.runs.claim(
        idempotency_key, IdempotencyRecord(stores.make_run_id(), digest)
    )
    if claimed.request_digest != digest:
        raise InvalidRequest(
            f"Idempotency-Key {idempotency_key!r} started run {claimed.run_id} for other"
            " customers; use a new key for a new run",
            status=422,
        )
    run = Run(claimed.run_id, iso_millis(stores.clock()), tuple(customer_ids))
    return publish_once(run, stores)


def retry_run(request: HttpRequest, stores: Coordination, run_id: str) -> HttpResponse:
    """A run of the failed customers of ``run_id`` that no earlier retry of it holds
    (``functions/retries.py``)."""
    return retries.retry(_known_run(stores, run_id), stores)


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
    """The text of the bill of ``customer_id`` in ``run_id``'s lineage (written by the run
    or one of its lineage's), as the bill object holds it."""
    if not is_customer_id(customer_id):
        raise InvalidRequest(f"{customer_id!r} is not a customer id ({CUSTOMER_ID_RULE})")
    run = _known_run(stores, run_id)
    name = f"{bills_of_run(run.bills_folder)}{bill_file(customer_id)}"
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


# What the coordinator answers; its OpenAPI document is built from this (functions/openapi.py).
ROUTES = (
    Route("POST", "/", "startRun", start_run),
    Route("GET", "/runs", "listRuns", list_runs),
    Route("GET", "/runs/{runId}", "getRun", show_run),
    Route("POST", "/runs/{runId}/retry", "retryRun", retry_run),
    Route("POST", "/runs/{runId}/cancel", "cancelRun", cancel_run),
    Route("GET", "/runs/{runId}/bills/{customerId}", "getBill", show_bill),
)
