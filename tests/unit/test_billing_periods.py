"""One bill per customer per billing period: a run of a period skips the customers billed in
it, every workflow of the period writes the customer's one bill of it, and the period's
books account for every customer of the CRM."""

from __future__ import annotations

from typing import Any

import pytest

from functions.wire.identifiers import WorkflowId
from tests.unit.harness import (
    JOHN,
    Harness,
    S3Harness,
    client,
    s3_requests,
    seeding,
)
from tests.unit.runs_by_hand import bill_every_published, fail, ids_of, published_workflows

PERIOD = "2026-11"


def start(customers: list[str], period: str | None = PERIOD, **headers: str) -> dict[str, Any]:
    body: dict[str, Any] = {"customerIdentifiers": customers}
    if period is not None:
        body["billingPeriod"] = period
    response = client("coordinator").post("/", json=body, headers=headers)
    assert response.status_code == 202, response.get_json()
    answer: dict[str, Any] = response.get_json()
    return answer


def status(run_id: str, query: str = "") -> dict[str, Any]:
    answer: dict[str, Any] = client("coordinator").get(f"/runs/{run_id}{query}").get_json()
    return answer


def books(period: str = PERIOD, query: str = "") -> dict[str, Any]:
    response = client("coordinator").get(f"/periods/{period}{query}")
    assert response.status_code == 200, response.get_json()
    answer: dict[str, Any] = response.get_json()
    return answer


def bills(harness: Harness) -> list[str]:
    return list(harness.services.context.bills.names())


def test_a_run_of_a_period_writes_each_bill_under_the_period(harness: Harness) -> None:
    run = start(["1", "2"])
    assert run["billingPeriod"] == PERIOD and run["billedBefore"] == []
    assert {w.billing_period for w in published_workflows(harness)} == {PERIOD}
    bill_every_published(harness, {run["runId"]})
    assert bills(harness) == [f"{PERIOD}/customer-bill-1.txt", f"{PERIOD}/customer-bill-2.txt"]
    shown = status(run["runId"])
    assert (shown["state"], shown["counts"]["billed"], shown["billingPeriod"]) == (
        "done",
        2,
        PERIOD,
    )


def test_a_second_run_of_the_period_skips_its_billed_customers_and_names_who_billed_them(
    harness: Harness,
) -> None:
    first = start(["1", "2"])
    bill_every_published(harness, {first["runId"]})
    harness.publisher.published.clear()
    second = start(["2", "3", "1"])
    assert second["billedBefore"] == ["2", "1"]
    assert [w["customerIdentifier"] for w in second["workflows"]] == ["3"]
    assert [w.customer_identifier for w in published_workflows(harness)] == ["3"]
    assert second["workflows"][0]["workflowId"] == f"{second['runId']}-2", "numbered by place"
    shown = status(second["runId"])
    assert shown["billedBefore"] == 2
    by_customer = {c["customerIdentifier"]: c for c in shown["customers"]}
    assert by_customer["1"] == {
        "customerIdentifier": "1",
        "state": "billed",
        "bill": f"{PERIOD}/customer-bill-1.txt",
        "billedBefore": True,
        "billedBy": first["runId"],
    }
    assert by_customer["3"]["state"] == "pending"
    bill_every_published(harness, {second["runId"]})
    assert status(second["runId"])["counts"] == {"pending": 0, "billed": 3, "failed": 0}
    assert len(bills(harness)) == 3


def test_a_run_whose_every_customer_was_billed_publishes_nothing_and_is_done(
    harness: Harness,
) -> None:
    bill_every_published(harness, {start(["1", "2"])["runId"]})
    harness.publisher.published.clear()
    again = start(["1", "2"])
    assert again["workflows"] == [] and harness.publisher.published == []
    shown = status(again["runId"])
    assert (shown["state"], shown["done"], shown["published"]) == ("done", True, True)


def test_workflows_of_two_runs_of_a_period_racing_write_one_bill(harness: Harness) -> None:
    first, second = start(["1"]), start(["1"])  # planned before either billed
    assert second["billedBefore"] == []
    bill_every_published(harness, {second["runId"]})
    bill_every_published(harness, {first["runId"]})
    assert bills(harness) == [f"{PERIOD}/customer-bill-1.txt"]
    assert status(first["runId"])["counts"]["billed"] == 1


def test_a_retry_of_a_period_run_bills_the_period_and_skips_what_was_billed_meanwhile(
    harness: Harness,
) -> None:
    context = harness.services.context
    run = start(["1", "2"])
    ids = ids_of(run)
    fail(context, ids["1"], "1", period=PERIOD)
    fail(context, ids["2"], "2", period=PERIOD)
    # Customer 2 billed by another run of the period since:
    bill_every_published(harness, {start(["2"])["runId"]})
    retried = client("coordinator").post(f"/runs/{run['runId']}/retry").get_json()
    assert (retried["billingPeriod"], retried["billedBefore"]) == (PERIOD, ["2"])
    assert [w["customerIdentifier"] for w in retried["workflows"]] == ["1"]
    bill_every_published(harness, {retried["runId"]})
    assert bills(harness) == [f"{PERIOD}/customer-bill-1.txt", f"{PERIOD}/customer-bill-2.txt"]


def test_without_a_period_a_run_bills_again_under_its_own_name(harness: Harness) -> None:
    first, second = start(["1"], period=None), start(["1"], period=None)
    assert "billingPeriod" not in first
    bill_every_published(harness, {first["runId"]})
    bill_every_published(harness, {second["runId"]})
    assert bills(harness) == sorted(f"{r['runId']}/customer-bill-1.txt" for r in (first, second))


@pytest.mark.parametrize(
    ("period", "complaint"),
    [
        ("2026-13", "which is not a billing period; give YYYY-MM (a month: 2026-12)"),
        ("2027-02-29", "of a date that exists"),
        ("1999-12", "in the years 2000 to 9998"),
        ("2026-W49", "YYYY-Qn (a quarter: 2026-Q4)"),
        (202612, '"billingPeriod" must be a string, got 202612'),
        (None, '"billingPeriod" must be a string, got null'),
    ],
)
def test_a_period_outside_the_pattern_is_a_400_naming_it(
    harness: Harness, period: Any, complaint: str
) -> None:
    body = {"customerIdentifiers": ["1"], "billingPeriod": period}
    response = client("coordinator").post("/", json=body)
    assert response.status_code == 400
    assert complaint in response.get_json()["detail"]
    assert harness.publisher.published == []
    assert list(harness.bucket(harness.services.settings.jobs_bucket).names()) == []


def test_a_misspelled_period_field_is_refused_not_ignored(harness: Harness) -> None:
    response = client("coordinator").post(
        "/", json={"customerIdentifiers": ["1"], "billingPeriods": PERIOD}
    )
    assert response.status_code == 400
    assert 'did you mean "billingPeriod"?' in response.get_json()["detail"]


@pytest.mark.parametrize("period", ["2026-11-30", "2026-Q4", "2026", "2028-02-29"])
def test_a_day_a_quarter_or_a_year_is_a_period_too(harness: Harness, period: str) -> None:
    run = start(["1"], period=period)
    bill_every_published(harness, {run["runId"]})
    assert bills(harness) == [f"{period}/customer-bill-1.txt"]


def test_the_same_idempotency_key_with_another_period_is_a_422(harness: Harness) -> None:
    first = start(["1"], **{"Idempotency-Key": "k"})
    assert start(["1"], **{"Idempotency-Key": "k"})["runId"] == first["runId"]
    for other in ("2026-12", None):
        body: dict[str, Any] = {"customerIdentifiers": ["1"]}
        if other is not None:
            body["billingPeriod"] = other
        response = client("coordinator").post("/", json=body, headers={"Idempotency-Key": "k"})
        assert response.status_code == 422
        assert "another billing period" in response.get_json()["detail"]


def test_a_failure_of_a_period_is_kept_as_the_customers_latest_in_it(harness: Harness) -> None:
    context = harness.services.context
    run = start(["1"])
    fail(context, ids_of(run)["1"], "1", period=PERIOD)
    (failure,) = context.failures.in_period(PERIOD, ["1"])
    assert failure is not None and failure.workflow_id.run_id == run["runId"]
    assert context.failures.failed_in_period(PERIOD) == {"1"}


# -- the books -----------------------------------------------------------------------


def test_the_books_account_for_every_customer_of_the_crm(harness: Harness) -> None:
    harness.services.seeded_customers()  # the lab's eight
    context = harness.services.context
    run = start(["1", "2", "3"])
    bill_every_published(harness, {run["runId"]})
    later = start(["4"])
    fail(context, ids_of(later)["4"], "4", period=PERIOD)
    found = books()
    assert found["totals"] == {"customers": 8, "billed": 3, "failed": 1, "unbilled": 4}
    by_customer = {c["customerIdentifier"]: c for c in found["customers"]}
    assert by_customer["1"] == {
        "customerIdentifier": "1",
        "state": "billed",
        "bill": f"{PERIOD}/customer-bill-1.txt",
        "billedBy": run["runId"],
    }
    assert by_customer["4"] == {
        "customerIdentifier": "4",
        "state": "failed",
        "reason": "the CRM did not answer",
        "failedIn": later["runId"],
    }
    assert by_customer["5"] == {"customerIdentifier": "5", "state": "unbilled"}
    assert list(by_customer) == [str(n) for n in range(1, 9)], "the CRM's order"
    assert found["next"] is None
    assert books("2026-12")["totals"] == {"customers": 8, "billed": 0, "failed": 0, "unbilled": 8}


def test_a_customer_billed_after_failing_is_billed_in_the_books(harness: Harness) -> None:
    harness.services.seeded_customers()
    context = harness.services.context
    run = start(["1"])
    fail(context, ids_of(run)["1"], "1", period=PERIOD)
    bill_every_published(harness, {start(["1"])["runId"]})
    assert books()["totals"]["billed"] == 1
    assert books(query="?state=failed")["customers"] == []


def test_the_books_are_paged_and_filtered_in_the_crms_order(harness: Harness) -> None:
    harness.services.seeded_customers()
    bill_every_published(harness, {start(["2", "5", "7"])["runId"]})
    first = books(query="?state=unbilled&limit=2")
    assert [c["customerIdentifier"] for c in first["customers"]] == ["1", "3"]
    assert first["next"] == "3" and first["totals"]["unbilled"] == 5
    response = client("coordinator").get(f"/periods/{PERIOD}?state=unbilled&limit=2")
    assert (
        response.headers["Link"]
        == f'</periods/{PERIOD}?after=3&limit=2&state=unbilled>; rel="next"'
    )
    second = books(query="?state=unbilled&limit=2&after=3")
    assert [c["customerIdentifier"] for c in second["customers"]] == ["4", "6"]
    assert "totals" not in second
    last = books(query=f"?state=unbilled&limit=2&after={second['next']}")
    assert [c["customerIdentifier"] for c in last["customers"]] == ["8"]
    assert last["next"] is None
    billed = books(query="?state=billed&limit=3")
    assert [c["customerIdentifier"] for c in billed["customers"]] == ["2", "5", "7"]
    assert billed["next"] is None


@pytest.mark.parametrize(
    ("path", "complaint"),
    [
        ("/periods/2026-13", "period='2026-13' is not a billing period"),
        ("/periods/2026-11?state=lost", "use one of billed, failed, unbilled"),
        ("/periods/2026-11?limit=1001", "limit must be a whole number from 1 to 1000"),
        ("/periods/2026-11?after=a/b", "is not a customer id"),
    ],
)
def test_asking_for_books_that_cannot_be_is_a_400(
    harness: Harness, path: str, complaint: str
) -> None:
    response = client("coordinator").get(path)
    assert response.status_code == 400
    assert complaint in response.get_json()["detail"]


def test_a_page_of_the_books_costs_the_page(s3_harness: S3Harness) -> None:
    """A page of 100 of 1,000 customers: a HEAD and a read each, and the CRM's listings of
    the ids it spans (a folder of each length, a shard); the totals, listings alone."""
    context = seeding(s3_harness)
    customers = context.customers
    for n in range(1, 1001):
        customers.put(JOHN.__class__(str(n), "F", "L", "C", "1", "1"))
    before = s3_requests()
    page = books(query="?totals=false")
    cost = s3_requests() - before
    assert len(page["customers"]) == 100 and page["next"] == "100"
    assert cost <= 2 * 100 + 10, cost
    before = s3_requests()
    assert books(query="?totals=true&limit=1")["totals"]["unbilled"] == 1000
    assert s3_requests() - before <= 20  # a listing per folder and shard, the bills, failures


# -- re-running a billed period --------------------------------------------------------


def test_rerunning_a_fully_billed_period_publishes_nothing_at_a_listing_per_thousand(
    s3_harness: S3Harness,
) -> None:
    """2,000 customers billed in the period: a run of them again costs a listing of the
    span of their bills (a request per 1,000) and its record's writes."""
    context = seeding(s3_harness)
    customers = [str(n) for n in range(1, 2001)]
    for customer in customers:
        wid = WorkflowId(f"run-20261101T000000-0000000a-{customer}")
        context.bills.create(f"{PERIOD}/customer-bill-{customer}.txt", "a bill", wid, "t")
    before = s3_requests()
    run = start(customers)
    cost = s3_requests() - before
    assert run["workflows"] == [] and s3_harness.publisher.published == []
    assert len(run["billedBefore"]) == 2000
    assert cost <= 15 * 2, f"{cost} S3 requests for 2,000 customers"


def test_a_run_of_a_period_costs_the_least_of_its_bills_read_and_the_period_listed(
    s3_harness: S3Harness,
) -> None:
    """The period holds 4,000 other runs' bills (customers 1,000 to 4,999). Their names
    interleave with the run's in S3's order ("customer-bill-1.txt" < "...-1000.txt" <
    "...-101.txt"): a listing of the span, 5 requests, costs least for 999 customers, a
    HEAD each for a few, and the listing stops for HEADs once those cost less."""
    context = seeding(s3_harness)
    for n in range(1000, 5000):
        wid = WorkflowId(f"run-20261101T000000-0000000a-{n}")
        context.bills.create(f"{PERIOD}/customer-bill-{n}.txt", "a bill", wid, "t")
    for customers, most in (([str(n) for n in range(1, 1000)], 6), (["1", "2", "3"], 3)):
        before = s3_requests()
        run = start(customers)
        posting = s3_requests() - before - 3  # its record twice, and its place in the list
        before = s3_requests()
        client("coordinator").get(f"/runs/{run['runId']}?customers=false")
        following = s3_requests() - before - 4  # its record, failures, cancel and retries
        assert len(run["workflows"]) == len(customers)
        assert (posting, following) <= (most, most), f"POST {posting}, GET {following}"
    before = s3_requests()
    run = start([str(n) for n in range(1, 26)])  # 25 in 5 pages: listed, then HEADs
    assert s3_requests() - before - 3 <= 10


def test_a_period_runs_bill_is_one_of_its_customers(harness: Harness) -> None:
    """GET /runs/<id>/bills/<customer> reads the period's bill: only for the run's own."""
    first = start(["1"])
    bill_every_published(harness, {first["runId"]})
    other = start(["2"])
    assert client("coordinator").get(f"/runs/{first['runId']}/bills/1").status_code == 200
    refused = client("coordinator").get(f"/runs/{other['runId']}/bills/1")
    assert refused.status_code == 404
    assert "is not one of run" in refused.get_json()["detail"]
