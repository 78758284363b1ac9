"""coordinator: the HTTP API that starts billing runs and tells how far they are, each
operation declared once, below, beside its handler (``functions/operation.py``).

``POST / {"customerIdentifiers": ["1", "3"]}`` starts a run (``run_starter.py``): one
``bill-generation`` workflow per customer on ``workflow-queue``, ``202`` with the run id
once Kafka has acknowledged every one of them, 503 and none delivered if it cannot; with an
``Idempotency-Key``, a repeated request returns the run the first one started.
``GET /runs/<run id>`` counts the run's pending, billed and failed workflows and says, per
customer, where its bill lies or why it failed (``runs.py``).
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from pydantic import Field, TypeAdapter, ValidationError
from typing_extensions import TypedDict

from functions import retries, run_starter
from functions.context import iso_millis
from functions.errors import InvalidRequest, NotFound
from functions.identifiers import CUSTOMER_ID_RULE, CustomerIdText, RunId, is_customer_id
from functions.operation import Api, Body, Paged, Parameters, Reply
from functions.parameters import CUSTOMER_ID_TEXT, RUN_ID, Flag, Moment, OneOf, Text, WholeNumber
from functions.run_answers import (
    RUN_STATES,
    STATES,
    CustomerState,
    RunAccepted,
    RunList,
    RunState,
    RunStatus,
)
from functions.run_list import DEFAULT_PAGE, MOST_A_PAGE, RunFilter
from functions.run_starter import Coordination, Started
from functions.runs import MAX_RUN_SIZE, CustomerPage, cancel, run_status
from functions.storage import Run
from functions.storage.keys import bill_file, bills_of_run
from functions.web import HttpResponse, documented

FIELD = "customerIdentifiers"
USAGE = 'POST a JSON body like {"customerIdentifiers": ["1", "3"]}'
MAX_IDEMPOTENCY_KEY = 255
CUSTOMERS_A_PAGE = 1_000  # a run's customers shown unless a limit is given
S3_DOWN = Reply("S3 is unavailable")
NOT_PUBLISHED = Reply("Kafka or S3 is unavailable; nothing was published")
REPLAYED = {"Idempotent-Replayed": {"schema": {"enum": ["true"]}}}
# Where a run's answer leads: its status, its retry, its cancel (schemathesis's stateful
# phase follows them; a bill is not linked, as the engine writes it later).
RUN_LINKS = {
    op: {"operationId": op, "parameters": {"runId": "$response.body#/runId"}}
    for op in ("getRun", "retryRun", "cancelRun")
}
API = Api("Billing run coordinator", "Starts billing runs on Kafka and follows them in S3.")


@documented
class RunRequest(TypedDict):
    customerIdentifiers: Annotated[
        list[CustomerIdText],
        Field(
            min_length=1,
            max_length=MAX_RUN_SIZE,
            json_schema_extra={"uniqueItems": True},
            examples=[["1", "3"]],
        ),
    ]


_RUN_REQUEST = TypeAdapter(RunRequest)


def read_run_request(body: Any) -> list[str]:
    """The customers a run request names: checked by pydantic, and any refusal worded
    by ``parse_customer_identifiers``."""
    try:
        customer_ids: list[str] = _RUN_REQUEST.validate_python(body)["customerIdentifiers"]
    except ValidationError:
        return parse_customer_identifiers(body)
    if len(set(customer_ids)) < len(customer_ids):
        return parse_customer_identifiers(body)  # refuses the repeat
    return customer_ids


def parse_customer_identifiers(body: Any) -> list[str]:
    """The customers of a run request; what pydantic refused, said in our words."""
    if not isinstance(body, dict):
        raise InvalidRequest(f"the request body must be a JSON object; {USAGE}")
    if FIELD not in body:
        if "customerIdentifers" in body:
            raise InvalidRequest(f'unknown field "customerIdentifers"; did you mean "{FIELD}"?')
        raise InvalidRequest(f'the request body has no "{FIELD}" field; {USAGE}')
    identifiers = body[FIELD]
    if not isinstance(identifiers, list) or not identifiers:
        raise InvalidRequest(f'"{FIELD}" must be a non-empty array of strings; {USAGE}')
    if len(identifiers) > MAX_RUN_SIZE:
        raise InvalidRequest(
            f'"{FIELD}" names {len(identifiers)} customers; split the run into requests of'
            f" at most {MAX_RUN_SIZE}",
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


class StartHeaders(Parameters):
    idempotency_key: (
        Annotated[
            str,
            Text(
                # No space at either end: HTTP servers strip them from a header's value, so
                # the key " " would reach us as "" (RFC 9110, 5.5).
                re.compile(r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?"),
                f"the {{name}} must be 1 to {MAX_IDEMPOTENCY_KEY} printable ASCII characters,"
                " no space first or last, such as a UUID",
                MAX_IDEMPOTENCY_KEY,
                least=1,
            ),
        ]
        | None
    ) = Field(None, alias="Idempotency-Key")
    """a repeated request with the key returns the first run"""


@API.operation(
    "POST",
    "/",
    "startRun",
    summary="Start a billing run: one bill-generation workflow per customer",
    headers=StartHeaders,
    body=Body(RunRequest, read_run_request),
    replies={
        202: Reply(
            "every workflow is on workflow-queue", RunAccepted, headers=REPLAYED, links=RUN_LINKS
        ),
        400: Reply("the body is not a run request"),
        413: Reply("the body is over 1 MiB or names too many customers"),
        422: Reply("the Idempotency-Key started a run for other customers"),
        503: NOT_PUBLISHED,
    },
)
def start_run(
    stores: Coordination, headers: StartHeaders, body: list[str]
) -> HttpResponse[RunAccepted]:
    return _accepted(run_starter.start(body, headers.idempotency_key, stores))


class RunsQuery(Paged[Annotated[RunId, RUN_ID]]):
    after: Annotated[RunId, RUN_ID] | None = None
    """the cursor: the last run of the page before (`next`)"""
    limit: Annotated[int, WholeNumber(1, MOST_A_PAGE)] = DEFAULT_PAGE
    """runs a page"""
    state: Annotated[RunState, OneOf(RUN_STATES)] | None = None
    since: Annotated[datetime, Moment()] | None = None
    """runs started at this time or later"""
    until: Annotated[datetime, Moment()] | None = None
    """runs started at this time or earlier"""


@API.operation(
    "GET",
    "/runs",
    "listRuns",
    summary="The runs, newest first, a page at a time",
    query=RunsQuery,
    replies={
        200: Reply(
            "a page of runs; `next` is the cursor of the next",
            RunList,
            headers={"Link": {"schema": {"type": "string"}}},
        ),
        400: Reply("a bad limit, cursor, state or time"),
        503: S3_DOWN,
    },
)
def list_runs(stores: Coordination, query: RunsQuery) -> HttpResponse[RunList]:
    runs = RunFilter(query.limit, query.after or "", query.state, query.since, query.until)
    page = runs.page(stores.records)
    headers = {}
    if page.next_after is not None:
        headers["Link"] = f'</runs?{urlencode(runs.next_query(page.next_after))}>; rel="next"'
    return HttpResponse(200, {"runs": page.items, "next": page.next_after}, headers)


class RunPath(Parameters):
    run_id: Annotated[RunId, RUN_ID]


class RunQuery(Paged[Annotated[int, WholeNumber(0, MAX_RUN_SIZE)]]):
    after: Annotated[int, WholeNumber(0, MAX_RUN_SIZE)] | None = None
    """the customers after the run's n-th (the `next` of the page before)"""
    limit: Annotated[int, WholeNumber(1, MAX_RUN_SIZE)] = CUSTOMERS_A_PAGE
    """customers a page; `next` is then the cursor of the next page, null on the last"""
    state: Annotated[CustomerState, OneOf(STATES)] | None = None
    """list only the customers in this state"""
    customers: Annotated[bool, Flag()] = True
    """false: the counts only, without a read per failure"""


@API.operation(
    "GET",
    "/runs/{runId}",
    "getRun",
    summary="How far a run is: counts, and each customer's bill or failure",
    path_parameters=RunPath,
    query=RunQuery,
    replies={
        200: Reply("the run's progress", RunStatus),
        400: Reply("not a run id, or an unknown state"),
        404: Reply("there is no such run"),
        503: S3_DOWN,
    },
)
def show_run(stores: Coordination, path: RunPath, query: RunQuery) -> HttpResponse[RunStatus]:
    page = CustomerPage(after=query.after or 0, limit=query.limit)
    run = _known_run(stores, path.run_id)
    return HttpResponse(200, run_status(run, stores.records, query.state, query.customers, page))


@API.operation(
    "POST",
    "/runs/{runId}/retry",
    "retryRun",
    summary="Start a run of the run's failed customers (the same run if asked again)",
    path_parameters=RunPath,
    replies={
        202: Reply(
            "the retry, whose `retryOf` is the run", RunAccepted, headers=REPLAYED, links=RUN_LINKS
        ),
        400: Reply("not a run id"),
        404: Reply("there is no such run"),
        409: Reply("the run has no failed customer"),
        503: NOT_PUBLISHED,
    },
)
def retry_run(stores: Coordination, path: RunPath) -> HttpResponse[RunAccepted]:
    return _accepted(retries.retry(_known_run(stores, path.run_id), stores))


@API.operation(
    "POST",
    "/runs/{runId}/cancel",
    "cancelRun",
    summary="Cancel a run: its bills stay, its pending customers fail as cancelled",
    path_parameters=RunPath,
    replies={
        202: Reply("the run, cancelled, with its counts", RunStatus),
        400: Reply("not a run id"),
        404: Reply("there is no such run"),
        409: Reply("the run is done; nothing to cancel"),
        503: S3_DOWN,
    },
)
def cancel_run(stores: Coordination, path: RunPath) -> HttpResponse[RunStatus]:
    run = _known_run(stores, path.run_id)
    return HttpResponse(202, cancel(run, stores.records, iso_millis(stores.clock())))


class BillPath(RunPath):
    customer_id: Annotated[str, CUSTOMER_ID_TEXT]


@API.operation(
    "GET",
    "/runs/{runId}/bills/{customerId}",
    "getBill",
    summary="The text of a run's bill for a customer, as the bill object holds it",
    path_parameters=BillPath,
    replies={
        200: Reply("the bill", {"type": "string"}, media_type="text/plain"),
        400: Reply("not a run id, or not a customer id"),
        404: Reply("the run has no bill for the customer"),
        503: S3_DOWN,
    },
)
def show_bill(stores: Coordination, path: BillPath) -> HttpResponse[str]:
    """The text of the bill of the customer in the run's lineage (written by the run or one
    of its lineage's), as the bill object holds it."""
    run = _known_run(stores, path.run_id)
    name = f"{bills_of_run(run.bills_folder)}{bill_file(path.customer_id)}"
    text = stores.records.bills.text(name)
    if text is None:
        raise NotFound(f"run {path.run_id} has no bill for customer {path.customer_id!r} (yet)")
    disposition = f'inline; filename="{bill_file(path.customer_id)}"'
    return HttpResponse(
        200,
        text,
        {"Content-Type": "text/plain; charset=utf-8", "Content-Disposition": disposition},
    )


def _known_run(stores: Coordination, run_id: RunId) -> Run:
    run = stores.records.runs.get(run_id)
    if run is None:
        raise NotFound(f"there is no run {run_id!r}")
    return run


def _accepted(started: Started) -> HttpResponse[RunAccepted]:
    headers = {"Idempotent-Replayed": "true"} if started.replayed else {}
    summary = started.run.summary()
    if started.retry_of is not None:
        summary["retryOf"] = started.retry_of
    return HttpResponse(202, summary, headers)
