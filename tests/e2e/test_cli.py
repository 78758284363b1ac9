"""End to end, as a user follows a run and bills a period: the `billing` CLI against the
HTTP functions and the runtime with auth on."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import requests

from runtime.config import StackSettings
from tests.helpers.cli import TOKEN, billing
from tests.helpers.processes import Processes, start_http_function
from tests.helpers.stores import bill_names

CLOUD_EVENT = {"ce_specversion", "ce_id", "ce_type", "ce_source", "ce_time", "content-type"}


def test_a_new_user_follows_a_run_from_the_cli_to_the_bill_text(
    stack: StackSettings, processes: Processes
) -> None:
    started = billing(stack, "run", "--all-customers", "--wait")
    assert started.returncode == 0, started.stderr
    first, *summary = started.stdout.splitlines()
    run_id = first.split(":")[0]
    assert first == f"{run_id}: 8 customer(s) on their way"
    assert summary[0].startswith("1 run(s) done in ") and summary[0].endswith("8 billed, 0 failed")
    assert "8/8 billed, 0 failed, 0 pending" in started.stderr

    # The run's state is in S3: another coordinator knows it as well as the first.
    other, _ = start_http_function(processes, stack, "coordinator", "coordinator-2")
    shown = billing(replace(stack, coordinator_url=other), "runs", "show", run_id)
    assert shown.returncode == 0, shown.stderr
    rows = shown.stdout.splitlines()[2:]
    assert len(rows) == 8
    assert rows[0].split() == ["1", "billed", f"{run_id}/customer-bill-1.txt"]

    bill = billing(stack, "bills", "show", "1")
    assert bill.returncode == 0, bill.stderr
    assert bill.stdout.startswith(f"# {run_id}/customer-bill-1.txt\nBill for John Doe\n")
    listed = billing(stack, "bills", "ls", "--customer", "8")
    assert listed.stdout.split()[-1] == f"{run_id}/customer-bill-8.txt"
    customers = billing(stack, "customers", "ls").stdout.splitlines()
    assert customers[0].split() == ["ID", "NAME", "CITY"]
    assert customers[1].split() == ["1", "John", "Doe", "Eindhoven"]
    assert len(customers) == 9

    # Failures end the wait too, and the summary says why; the exit status says so.
    mixed = billing(stack, "run", "2", "999", "--wait")
    assert mixed.returncode == 1, mixed.stderr
    assert "1 billed, 1 failed" in mixed.stdout
    assert "customer 999 failed: customer '999' is not known to the CRM" in mixed.stdout

    refused = billing(stack, "runs", "show", run_id, token="not-the-token")
    assert refused.returncode == 2
    assert refused.stderr.startswith("billing: the coordinator answered 401: the bearer token")
    assert refused.stderr.count("\n") == 1
    for process in processes.started:
        assert TOKEN not in process.raw_output(), f"the token is in {process.log.name}"
        assert "not-the-token" not in process.raw_output()


def test_a_period_bills_every_customer_once_however_often_it_is_run_then_its_new_ones(
    stack: StackSettings, tmp_path: Path
) -> None:
    user = replace(stack, billing_state_dir=str(tmp_path / "billing-state"))
    period = ("run", "--all-customers", "--period", "2026-11", "--wait")
    first = billing(user, *period)
    assert first.returncode in (0, 1), first.stderr
    started = first.stdout.splitlines()[0]
    run_id = started.split(":")[0]
    assert started == f"{run_id}: 8 customer(s) on their way, 0 billed in 2026-11 already"
    # The seed customers are all known to the CRM: only a lost answer would fail one.
    failed = first.stdout.count(" failed: ")

    # Run again: nobody is billed twice in the period, from the CLI or over HTTP.
    again = billing(user, *period)
    assert again.returncode in (0, 1), again.stderr
    assert again.stdout.splitlines()[0].endswith(
        f": {failed} customer(s) on their way, {8 - failed} billed in 2026-11 already"
    )
    body = {"customerIdentifiers": [str(n) for n in range(1, 9)], "billingPeriod": "2026-11"}
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    posted = requests.post(stack.coordinator_address, json=body, headers=bearer, timeout=60)
    assert posted.status_code == 202, posted.text
    assert len(posted.json()["billedBefore"]) >= 8 - failed
    if not failed:
        assert posted.json()["workflows"] == []
    if failed:
        retried = billing(user, "runs", "retry", run_id, "--wait")
        assert retried.returncode == 0, retried.stdout + retried.stderr

    # Each customer's one bill of the period, and no other bill.
    every = sorted(bill_names(stack))
    assert every == sorted(f"2026-11/customer-bill-{n}.txt" for n in range(1, 9))
    books = billing(user, "periods", "show", "2026-11")
    assert books.returncode == 0, books.stderr
    totals, header, *rows = books.stdout.splitlines()
    assert totals == "2026-11: 8 customer(s) of the CRM: 8 billed, 0 failed, 0 not billed"
    assert header.split() == ["CUSTOMER", "STATE", "BILL", "OR", "REASON", "RUN"]
    assert [row.split()[:3] for row in rows] == [
        [str(n), "billed", f"2026-11/customer-bill-{n}.txt"] for n in range(1, 9)
    ]

    # Five new customers: not billed in the period until a run of its unbilled ones.
    new = [str(n) for n in range(21, 26)]
    csv = tmp_path / "new-customers.csv"
    csv.write_text(
        "customerId,firstName,lastName,city,connectionId,connectionMandate\n"
        + "".join(f"{n},New,Customer{n},Utrecht,{7000 + int(n)},1\n" for n in new)
    )
    imported = billing(user, "customers", "import", str(csv))
    assert imported.returncode == 0, imported.stderr
    unbilled = billing(user, "periods", "show", "2026-11", "--state", "unbilled")
    totals, _, *rows = unbilled.stdout.splitlines()
    assert totals == "2026-11: 13 customer(s) of the CRM: 8 billed, 0 failed, 5 not billed"
    assert [row.split() for row in rows] == [[n, "unbilled"] for n in new]

    last = billing(user, "run", "--period", "2026-11", "--unbilled", "--wait")
    assert last.returncode == 0, last.stdout + last.stderr
    said, started, done, *_ = last.stdout.splitlines()
    assert said == "5 of the CRM's 13 customer(s) have no bill in 2026-11"
    last_run = started.split(":")[0]
    assert started == f"{last_run}: 5 customer(s) on their way, 0 billed in 2026-11 already"
    assert done.endswith("5 billed, 0 failed")
    shown = billing(user, "runs", "show", last_run).stdout.splitlines()[2:]
    assert [row.split()[:2] for row in shown] == [[n, "billed"] for n in new]
    customers = [*(str(n) for n in range(1, 9)), *new]
    every = sorted(bill_names(stack))
    assert every == sorted(f"2026-11/customer-bill-{n}.txt" for n in customers)
    assert list((tmp_path / "billing-state").iterdir()) == [], "no plan left unfinished"
