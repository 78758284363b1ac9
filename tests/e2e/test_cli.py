"""End to end, as a user follows a run: the `billing` CLI against the HTTP functions and
the runtime with auth on."""

from __future__ import annotations

from dataclasses import replace

from runtime.config import StackSettings
from tests.helpers.cli import TOKEN, billing
from tests.helpers.processes import Processes, start_http_function

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
