"""coordinator: the HTTP API that starts billing runs and tells how far they are, each
operation declared once, below, beside its handler (``functions/http/operation.py``).

``POST / {"customerIdentifiers": ["1", "3"], "billingPeriod": "2026-12"}`` starts a run
(``request.py``, ``starter.py``): one ``bill-generation`` workflow per customer not
billed in the period yet on ``workflow-queue``, ``202`` with the run id once Kafka has
acknowledged every one of them, 503 and none delivered if it cannot; with an
``Idempotency-Key``, a repeated request returns the run the first one started.
``GET /runs/<run id>`` counts the run's pending, billed and failed workflows and says, per
customer, where its bill lies or why it failed (``status.py``). ``GET /periods/<period>``
is a period's books: each customer of the CRM billed, failed or not (``period_books.py``).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated
from urllib.parse import urlencode

from pydantic import Field

from functions.access import Caller, Role
from functions.context import iso_millis
from functions.errors import NotFound
from functions.http.operation import Api, Paged, Parameters, Reply
from functions.http.parameters import (
    BILLING_PERIOD,
    CUSTOMER_ID_TEXT,
    RUN_ID,
    Flag,
    Moment,
    OneOf,
    Text,
    WholeNumber,
)
from functions.http.web import HttpResponse
from functions.runs import retries, starter
from functions.runs.answers import (
    RUN_STATES,
    STATES,
    CustomerState,
    RunAccepted,
    RunList,
    RunState,
    RunStatus,
)
from functions.runs.listing import DEFAULT_PAGE, MOST_A_PAGE, RunFilter
from functions.runs.period_books import (
    BOOK_STATES,
    BooksPage,
    BooksRecords,
    BookState,
    PeriodBooks,
    books,
)
from functions.runs.period_books import DEFAULT_PAGE as BOOKS_DEFAULT_PAGE
from functions.runs.period_books import MOST_A_PAGE as BOOKS_MOST_A_PAGE
from functions.runs.request import RUN_REQUEST, RunOrder
from functions.runs.starter import Coordination, Started
from functions.runs.status import MAX_RUN_SIZE, CustomerPage, cancel, run_status
from functions.storage import Run
from functions.storage.keys import bill_file, bills_of_run
from functions.wire.billing_period import BillingPeriod
from functions.wire.identifiers import RunId

MAX_IDEMPOTENCY_KEY = 255
CUSTOMERS_A_PAGE = 1_000  # a run's customers shown unless a limit is given
S3_DOWN = Reply("S3 is unavailable")
NOT_PUBLISHED = Reply("Kafka or S3 is unavailable; nothing was published")
REPLAYED = {"Idempotent-Replayed": {"schema": {"enum": ["true"]}}}
NEXT_PAGE = {"Link": {"schema": {"type": "string"}}}
# Where a run's answer leads: its status, its retry, its cancel (schemathesis's stateful
# phase follows them; a bill is not linked, as the engine writes it later).
RUN_LINKS = {
    op: {"operationId": op, "parameters": {"runId": "$response.body#/runId"}}
    for op in ("getRun", "retryRun", "cancelRun")
}
API = Api("Billing run coordinator", "Starts billing runs on Kafka and follows them in S3.")


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
    role=Role.OPERATOR,
    caller=True,
    summary="Start a billing run: one bill-generation workflow per customer",
    headers=StartHeaders,
    body=RUN_REQUEST,
    replies={
        202: Reply(
            "every workflow is on workflow-queue", RunAccepted, headers=REPLAYED, links=RUN_LINKS
        ),
        400: Reply("the body is not a run request"),
        413: Reply("the body is over 1 MiB or names too many customers"),
        422: Reply(
            "the Idempotency-Key started a run for other customers or another period, or is"
            " taken by a run the coordinator started itself"
        ),
        503: NOT_PUBLISHED,
    },
)
def start_run(
    stores: Coordination, headers: StartHeaders, body: RunOrder, caller: Caller
) -> HttpResponse[RunAccepted]:
    started = starter.start(
        body.customer_ids, headers.idempotency_key, stores, body.billing_period, caller.name
    )
    return _accepted(started)


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
    role=Role.VIEWER,
    summary="The runs, newest first, a page at a time",
    query=RunsQuery,
    replies={
        200: Reply(
            "a page of runs; `next` is the cursor of the next",
            RunList,
            headers=NEXT_PAGE,
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
    role=Role.VIEWER,
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
    role=Role.OPERATOR,
    caller=True,
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
def retry_run(stores: Coordination, path: RunPath, caller: Caller) -> HttpResponse[RunAccepted]:
    return _accepted(retries.retry(_known_run(stores, path.run_id), stores, caller.name))


@API.operation(
    "POST",
    "/runs/{runId}/cancel",
    "cancelRun",
    role=Role.OPERATOR,
    caller=True,
    summary="Cancel a run: its bills stay, its pending customers fail as cancelled",
    path_parameters=RunPath,
    replies={
        202: Reply(
            "the run, cancelled, with its counts (`Idempotent-Replayed: true`: it was"
            " cancelled before, when and by whom it says)",
            RunStatus,
            headers=REPLAYED,
        ),
        400: Reply("not a run id"),
        404: Reply("there is no such run"),
        409: Reply("the run is done; nothing to cancel"),
        503: S3_DOWN,
    },
)
def cancel_run(stores: Coordination, path: RunPath, caller: Caller) -> HttpResponse[RunStatus]:
    run = _known_run(stores, path.run_id)
    status, replayed = cancel(run, stores.records, iso_millis(stores.clock()), caller.name)
    return HttpResponse(202, status, {"Idempotent-Replayed": "true"} if replayed else {})


class PeriodPath(Parameters):
    period: Annotated[BillingPeriod, BILLING_PERIOD]


class BooksQuery(Paged[Annotated[str, CUSTOMER_ID_TEXT]]):
    after: Annotated[str, CUSTOMER_ID_TEXT] | None = None
    """the cursor: the last customer of the page before (`next`)"""
    limit: Annotated[int, WholeNumber(1, BOOKS_MOST_A_PAGE)] = BOOKS_DEFAULT_PAGE
    """customers a page"""
    state: Annotated[BookState, OneOf(BOOK_STATES)] | None = None
    """only the customers in this state (a page looks at 2,000 customers at most)"""
    totals: Annotated[bool, Flag()] | None = None
    """count every customer of the CRM by state (a listing per 1,000 customers, bills and
    failures); unless given, on the first page only"""


@API.operation(
    "GET",
    "/periods/{period}",
    "getPeriod",
    role=Role.VIEWER,
    summary="A billing period's books: each customer of the CRM billed, failed or not billed",
    path_parameters=PeriodPath,
    query=BooksQuery,
    replies={
        200: Reply(
            "a page of the period's books, in the CRM's id order; `next` is the cursor",
            PeriodBooks,
            headers=NEXT_PAGE,
        ),
        400: Reply("not a billing period, or a bad cursor, limit or state"),
        503: S3_DOWN,
    },
)
def show_period(
    stores: Coordination, path: PeriodPath, query: BooksQuery
) -> HttpResponse[PeriodBooks]:
    records = stores.records
    page = BooksPage(query.limit, query.after or "", query.state)
    with_totals = query.after is None if query.totals is None else query.totals
    found = books(
        path.period,
        BooksRecords(records.customers, records.bills, records.failures),
        page,
        with_totals,
    )
    headers = {}
    if found["next"] is not None:
        following = {"after": found["next"], "limit": query.limit}
        if query.state is not None:
            following["state"] = query.state
        where = f"/periods/{path.period}?{urlencode(following)}"
        headers["Link"] = f'<{where}>; rel="next"'
    return HttpResponse(200, found, headers)


class BillPath(RunPath):
    customer_id: Annotated[str, CUSTOMER_ID_TEXT]


@API.operation(
    "GET",
    "/runs/{runId}/bills/{customerId}",
    "getBill",
    role=Role.VIEWER,
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
    """The text of the bill of one of the run's customers, in the run's folder: its period's
    or its lineage's (written by the run or another of them), as the bill object holds it."""
    run = _known_run(stores, path.run_id)
    if path.customer_id not in run.customer_ids:
        raise NotFound(f"customer {path.customer_id!r} is not one of run {path.run_id}'s")
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
