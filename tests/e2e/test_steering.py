"""End to end, as an operator steers runs: list them, retry their failures, cancel one
midway, through the `billing` CLI and the coordinator on the real stack."""

from __future__ import annotations

import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from functions.storage import CANCELLED, keys
from functions.storage.bucket import Bucket
from functions.wire.messages import Customer
from infra.components import http_answers
from runtime.config import StackSettings
from runtime.services import Services, s3_client
from tests.helpers.cli import TOKEN, billing
from tests.helpers.ports import free_port
from tests.helpers.processes import Processes, start_http_function
from tests.helpers.waiting import wait_for

# What docs/guarantees.md states: no bill of a run is created later than this after its
# cancel was answered (one batch of answers, on a loaded two-core machine).
CANCEL_BOUND = timedelta(seconds=5)


def test_an_operator_lists_runs_and_retries_the_failed(stack: StackSettings) -> None:
    ran = billing(stack, "run", "2", "999", "--wait")
    assert ran.returncode == 1, ran.stderr
    run_id = ran.stdout.split(":")[0]

    listed = billing(stack, "runs", "ls").stdout.splitlines()
    assert listed[0].split() == [
        *("RUN", "STARTED", "STATE", "CUSTOMERS", "BILLED", "FAILED", "PENDING", "RETRY", "OF"),
        "BY",
    ]
    assert listed[1].split()[0] == run_id
    assert listed[1].split()[2:7] == ["done", "2", "1", "1", "0"]
    assert listed[1].split()[-1] == "BILLING_TOKEN"  # who started it: the tests' admin token

    retried = billing(stack, "runs", "retry", run_id, "--wait")
    assert retried.returncode == 1, retried.stderr  # 999 is still unknown to the CRM
    retry_id = retried.stdout.split(":")[0]
    assert retried.stdout.splitlines()[0] == f"{retry_id}: retries 1 failed customer(s) of {run_id}"
    again = billing(stack, "runs", "retry", run_id)
    assert again.stdout.split(":")[0] == retry_id, "the same failures are retried once"

    newest = billing(stack, "runs", "ls", "--limit", "1").stdout.splitlines()
    assert newest[1].split()[0] == retry_id
    assert newest[1].split()[-2:] == [run_id, "BILLING_TOKEN"]  # retry of, by
    assert newest[2] == f"more: billing runs ls --after {retry_id}"
    shown = billing(stack, "runs", "show", run_id).stdout.splitlines()[0]
    assert f"retried by {retry_id}" in shown

    onward = billing(stack, "runs", "retry", retry_id, "--wait")
    assert onward.returncode == 1, onward.stderr  # what failed again is retried in turn
    done = billing(stack, "runs", "cancel", run_id)
    assert done.returncode == 2
    assert "is done: every customer has a bill or a failure" in done.stderr


@pytest.mark.slow
def test_a_run_cancelled_midway_bills_no_one_after_the_bound(
    settings: StackSettings, processes: Processes
) -> None:
    """2,000 customers, every S3 request of the functions 25 ms late, as on a cloud store."""
    server = settings.s3_endpoint_url or ""
    port = free_port()
    host_and_port = server.removeprefix("http://")
    processes.start(
        [
            *(sys.executable, "-m", "infra.s3_latency", "--listen", f"127.0.0.1:{port}"),
            *("--target", host_and_port, "--latency-ms", "25"),
        ],
        settings,
        "s3-latency",
    )
    wait_for("the latency proxy", lambda: http_answers(f"http://127.0.0.1:{port}"))
    late = replace(settings, s3_endpoint_url=f"http://127.0.0.1:{port}", auth_token=TOKEN)
    customers = [
        Customer(str(n), f"First{n}", f"Last{n}", "Utrecht", str(5000 + n), "1")
        for n in range(1, 2001)
    ]
    Services(settings).context.customers.put_all(customers)
    coordinator, _ = start_http_function(processes, late, "coordinator")
    processes.runtime("all", late)
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    started = requests.post(
        coordinator,
        json={"customerIdentifiers": [c.customer_id for c in customers]},
        headers=bearer,
        timeout=120,
    )
    assert started.status_code == 202, started.text
    run_id = started.json()["runId"]
    bills = Bucket(s3_client(settings), settings.bills_bucket)
    wait_for("a tenth of the bills", lambda: len(list(bills.names(f"{run_id}/"))) >= 200, 300)

    cancelled = requests.post(f"{coordinator}runs/{run_id}/cancel", headers=bearer, timeout=60)
    answered = datetime.now(UTC)
    assert cancelled.status_code == 202, cancelled.text

    def status() -> dict[str, Any] | None:
        body: dict[str, Any] = requests.get(
            f"{coordinator}runs/{run_id}?limit=2000", headers=bearer, timeout=60
        ).json()
        return body if body["counts"]["pending"] == 0 else None

    final = wait_for("every customer billed or cancelled", status, timeout_s=300)
    assert final["state"] == "cancelled"
    billed = {c["customerIdentifier"] for c in final["customers"] if c["state"] == "billed"}
    failed = {
        c["customerIdentifier"]: c["reason"] for c in final["customers"] if c["state"] == "failed"
    }
    assert 200 <= len(billed) < 2000
    assert len(billed) + len(failed) == 2000
    assert set(failed.values()) == {CANCELLED}
    # A failed workflow counts as failed whatever its bill: look at the objects themselves.
    with_a_bill = {keys.customer_of_bill(name) for name in bills.names(f"{run_id}/")}
    both = sorted(set(failed) & with_a_bill)
    assert both == [], "a customer has a bill and a cancelled failure"
    latest = max(
        datetime.fromisoformat((bills.metadata(c["bill"]) or {})["billed-at"])
        for c in final["customers"]
        if c["state"] == "billed"
    )
    print(f"last bill {(latest - answered).total_seconds():+.3f} s after the cancel was answered")
    assert latest <= answered + CANCEL_BOUND, f"a bill at {latest}, cancel answered {answered}"


@pytest.mark.slow
def test_a_schedule_of_every_minute_bills_every_customer_once_a_period(
    settings: StackSettings, processes: Processes
) -> None:
    """Every minute, a tick of this month: the first bills every customer, the second
    finds each billed in the month and sends no workflow."""
    scheduled = replace(settings, billing_schedule="* * * * *", auth_token=TOKEN)
    coordinator, _ = start_http_function(processes, scheduled, "coordinator")
    processes.runtime("all", scheduled)
    client = replace(scheduled, coordinator_url=coordinator)

    def scheduled_runs(count: int) -> list[dict[str, Any]] | None:
        runs = requests.get(
            f"{coordinator}runs", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
        ).json()["runs"]
        done = [run for run in runs if "scheduledFor" in run and run["state"] == "done"]
        return done if len(done) >= count else None

    # The tick of the minute before the start is caught up; the next one comes on time.
    runs = wait_for("two scheduled runs, done", lambda: scheduled_runs(2), timeout_s=150)
    ticks = [run["scheduledFor"] for run in runs]
    assert len(set(ticks)) == len(ticks), f"a tick billed twice: {ticks}"
    assert all(run["counts"] == {"pending": 0, "billed": 8, "failed": 0} for run in runs)
    bills = Bucket(s3_client(settings), settings.bills_bucket)
    for period in {run["billingPeriod"] for run in runs}:  # two, if a month ended between
        assert len(list(bills.names(f"{period}/"))) == 8, "one bill a customer in the month"
        before = sorted(run["billedBefore"] for run in runs if run["billingPeriod"] == period)
        assert before == [0] + [8] * (len(before) - 1), before
    shown = billing(client, "schedule").stdout.splitlines()
    assert shown[0] == "* * * * * in UTC; the next ticks:"
    assert any(line.startswith("the last scheduled run: run-") for line in shown), shown
