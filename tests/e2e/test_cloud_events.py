"""End to end: the CloudEvents on every topic, and the structured logs, of a billing run."""

from __future__ import annotations

import requests

from runtime.config import StackSettings
from tests.helpers.cli import TOKEN, billing
from tests.helpers.kafka import produce, topic_records
from tests.helpers.processes import Processes
from tests.helpers.waiting import wait_for

CLOUD_EVENT = {"ce_specversion", "ce_id", "ce_type", "ce_source", "ce_time", "content-type"}


def test_every_message_is_a_cloud_event_and_every_workflow_line_names_its_run(
    stack: StackSettings, processes: Processes
) -> None:
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    response = requests.post(
        stack.coordinator_address,
        json={"customerIdentifiers": ["1", "2"]},
        headers=bearer,
        timeout=30,
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
        status = requests.get(
            f"{stack.coordinator_address}runs/{run_id}", headers=bearer, timeout=10
        )
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
