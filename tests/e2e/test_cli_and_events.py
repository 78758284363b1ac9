"""End to end, as a user follows a run: the `billing` CLI against the HTTP functions and
the runtime with auth on; the CloudEvents on every topic; the structured logs."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import requests

from runtime.config import Settings
from tests.support import (
    Processes,
    produce,
    start_http_function,
    topic_records,
    wait_for,
)

TOKEN = "e2e-token-Zq8w"
BILLING = str(Path(sys.executable).parent / "billing")
CLOUD_EVENT = {"ce_specversion", "ce_id", "ce_type", "ce_source", "ce_time", "content-type"}


@pytest.fixture
def stack(settings: Settings, processes: Processes) -> Settings:
    """Coordinator, CRM and runtime with bearer auth on; the settings a client needs."""
    guarded = replace(settings, auth_token=TOKEN)
    coordinator, _ = start_http_function(processes, guarded, "coordinator")
    crm, _ = start_http_function(processes, guarded, "crm")
    processes.runtime("all", guarded)
    return replace(guarded, coordinator_url=coordinator, crm_url=crm)


def billing(
    settings: Settings, *arguments: str, token: str | None = TOKEN
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **settings.to_env(), "BILLING_TOKEN": token or ""}
    return subprocess.run(
        [BILLING, *arguments], capture_output=True, text=True, env=env, timeout=180
    )


def test_a_new_user_follows_a_run_from_the_cli_to_the_bill_text(
    stack: Settings, processes: Processes
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


def test_every_message_is_a_cloud_event_and_every_workflow_line_names_its_run(
    stack: Settings, processes: Processes
) -> None:
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    response = requests.post(
        stack.coordinator_url, json={"customerIdentifiers": ["1", "2"]}, headers=bearer, timeout=30
    )
    assert response.status_code == 202, response.text
    run_id = response.json()["runId"]
    # A message as the lab's Node.js coordinator sends it: no headers, a numeric id.
    lab = {
        "workflow-type": "bill-generation",
        "workflow-id": 1616523703935.42,
        "create-time": "2021-03-23T18:21:43.935Z",
        "payload": {"customerIdentifier": "3"},
    }
    produce(stack, stack.workflow_topic, [lab])

    def answered() -> bool:
        status = requests.get(f"{stack.coordinator_url}runs/{run_id}", headers=bearer, timeout=10)
        return bool(status.json()["done"])

    wait_for("the run to be done", answered)
    expected = {
        stack.workflow_topic: ("io.billing.workflow.bill-generation", "/billing/coordinator", 2),
        stack.questions_topic: ("io.billing.question.customer", "/billing/engine-start", 3),
        stack.answers_topic: ("io.billing.answer", "/billing/crm-answer", 3),
    }
    for topic, (type_, source, ours) in expected.items():
        records = [r for r in topic_records(stack, topic) if r.headers()]
        assert len(records) == ours, topic
        for record in records:
            headers = {name: value.decode() for name, value in record.headers()}
            assert set(headers) >= CLOUD_EVENT, topic
            assert (headers["ce_type"], headers["ce_source"]) == (type_, source)
            assert headers["content-type"] == "application/json"
            assert record.key() in {
                f"{run_id}-1".encode(),
                f"{run_id}-2".encode(),
                b"1616523703935.42",
            }
    wait_for(
        "the lab's workflow billed",
        lambda: (
            billing(stack, "bills", "ls", "--customer", "3").stdout.count("customer-bill-3") == 1
        ),
    )

    runtime = next(p for p in processes.started if p.log.name == "all.log")
    about_run = [line for line in runtime.log_lines() if line.get("runId") == run_id]
    assert about_run, "no log line names the run"
    assert {line["workflowId"] for line in about_run} == {f"{run_id}-1", f"{run_id}-2"}
    for line in runtime.log_lines():
        if run_id in str(line["message"]):
            assert line.get("runId") == run_id, line
    lab_lines = [
        line for line in runtime.log_lines() if line.get("workflowId") == "1616523703935.42"
    ]
    assert lab_lines and all(line["runId"] is None for line in lab_lines)
