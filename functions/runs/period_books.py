"""A billing period's books: every customer the CRM knows, billed in the period (its bill
and the run that wrote it), failed (why, and in which run) or not billed, a page at a time
in the CRM's id order, and totals that add up to the CRM's count.

A page costs what it shows: a listing of the CRM's ids it spans (a request per 1,000), a
HEAD of each customer's bill of the period (which also names the workflow that wrote it),
and, for a customer without one, a read of its latest failure in the period
(``period-failures/<period>/<customer>.json``). A filtered page looks at no more than
``SCANNED_PER_PAGE`` customers: it may show fewer than asked and still have a next. The
totals, on the first page, cost a listing of the CRM's ids, of the period's bills and of
its failures (a request per 1,000 each).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, NotRequired, get_args

from typing_extensions import TypedDict

from functions.http.web import documented
from functions.storage import BillStore, CustomerStore, JobFailures
from functions.storage.keys import bill_in, bills_of_run, customer_of_bill
from functions.wire.identifiers import CustomerIdText, RunId, RunIdText, safe_key

BookState = Literal["billed", "failed", "unbilled"]
BOOK_STATES: tuple[BookState, ...] = get_args(BookState)
DEFAULT_PAGE = 100
MOST_A_PAGE = 1_000
SCANNED_PER_PAGE = 2_000  # customers a filtered page looks at, at most


@documented
class CustomerInPeriod(TypedDict):
    """A customer of the CRM, and whether the period billed it."""

    customerIdentifier: CustomerIdText
    state: BookState
    bill: NotRequired[str]
    """the customer's bill of the period: its S3 key"""
    billedBy: NotRequired[RunIdText]
    """the run whose workflow wrote the bill"""
    reason: NotRequired[str]
    """why its latest workflow of the period failed"""
    failedIn: NotRequired[RunIdText]
    """the run of that workflow"""


@documented
class PeriodTotals(TypedDict):
    """The CRM's customers by state in the period: billed + failed + unbilled = customers."""

    customers: int
    billed: int
    failed: int
    unbilled: int


@documented
class PeriodBooks(TypedDict):
    """A page of a billing period's books."""

    billingPeriod: str
    totals: NotRequired[PeriodTotals]
    """every customer of the CRM counted (on the first page, or with totals=true)"""
    customers: list[CustomerInPeriod]
    next: str | None
    """the cursor of the next page (its `after`), null on the last"""


@dataclass(frozen=True)
class BooksRecords:
    """Where the books are read: the CRM's customers, the bills, the failures."""

    customers: CustomerStore
    bills: BillStore
    failures: JobFailures


@dataclass(frozen=True)
class BooksPage:
    """Which customers a page shows: those after the id ``after`` in the CRM's order, in
    ``state`` if given, ``limit`` at most."""

    limit: int = DEFAULT_PAGE
    after: str = ""
    state: BookState | None = None


def books(period: str, records: BooksRecords, page: BooksPage, with_totals: bool) -> PeriodBooks:
    shown: list[CustomerInPeriod] = []
    after, scanned, exhausted = page.after, 0, False
    while len(shown) < page.limit and scanned < SCANNED_PER_PAGE and not exhausted:
        wanted = page.limit - len(shown) if page.state is None else page.limit
        ids = records.customers.id_page(after, min(wanted, SCANNED_PER_PAGE - scanned))
        full = False
        for entry in _looked_up(period, ids.items, records):
            matches = page.state in (None, entry["state"])
            if full and matches:
                break  # the next page's first
            after, scanned = entry["customerIdentifier"], scanned + 1
            if matches:
                shown.append(entry)
                full = len(shown) == page.limit
        exhausted = ids.next_after is None and after == (ids.items[-1] if ids.items else after)
    answer = PeriodBooks(billingPeriod=period, customers=shown, next=None if exhausted else after)
    if with_totals:
        answer["totals"] = totals(period, records)
    return answer


def _looked_up(
    period: str, customer_ids: list[str], records: BooksRecords
) -> Iterator[CustomerInPeriod]:
    """Each customer's state in the period: its bill's HEAD, and for one without, its
    latest failure's read (all of them at once, a few at a time)."""
    names = [bill_in(period, customer_id) for customer_id in customer_ids]
    writers = records.bills.writers(names)
    unbilled = [c for c, writer in zip(customer_ids, writers, strict=True) if writer is None]
    failures = dict(zip(unbilled, records.failures.in_period(period, unbilled), strict=True))
    for customer_id, name, writer in zip(customer_ids, names, writers, strict=True):
        entry = CustomerInPeriod(customerIdentifier=customer_id, state="unbilled")
        if writer is not None:
            entry["state"], entry["bill"] = "billed", name
            if (billed_by := RunId.of_workflow(writer)) is not None:
                entry["billedBy"] = billed_by
        elif (failure := failures[customer_id]) is not None:
            entry["state"], entry["reason"] = "failed", failure.reason
            if (failed_in := failure.workflow_id.run_id) is not None:
                entry["failedIn"] = failed_in
        yield entry


def totals(period: str, records: BooksRecords) -> PeriodTotals:
    """Every customer of the CRM, counted by its state in the period: listings only."""
    known = {safe_key(customer_id) for customer_id in _every_id(records.customers)}
    bills = records.bills.names(bills_of_run(period))
    billed = known & {customer for name in bills if (customer := customer_of_bill(name))}
    failed = known & records.failures.failed_in_period(period) - billed
    return PeriodTotals(
        customers=len(known),
        billed=len(billed),
        failed=len(failed),
        unbilled=len(known) - len(billed) - len(failed),
    )


def _every_id(customers: CustomerStore) -> Iterator[str]:
    after: str | None = ""
    while after is not None:
        ids = customers.id_page(after, 10_000)
        yield from ids.items
        after = ids.next_after
