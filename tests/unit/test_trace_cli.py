"""`billing trace`: the workflow that billed a customer, and a workflow's spans, as Jaeger's
query API gives them, as a waterfall."""

from __future__ import annotations

from typing import Any

import pytest

from cli.api import CliError
from cli.trace import parsed, waterfall, workflow_of
from functions.wire.identifiers import WorkflowId
from tests.unit.harness import Harness, HarnessApi
from tests.unit.runs_by_hand import billed_by_a_retry


def span(span_id: str, parent: str | None, name: str, pid: str, start: int, took: int) -> Any:
    references = [{"refType": "CHILD_OF", "traceID": "t", "spanID": parent}] if parent else []
    return {
        "spanID": span_id,
        "operationName": name,
        "references": references,
        "startTime": 1_000_000 + start,
        "duration": took,
        "processID": pid,
    }


TRACE = {
    "traceID": "t",
    "processes": {
        "p1": {"serviceName": "coordinator"},
        "p2": {"serviceName": "engine-start"},
        "p3": {"serviceName": "crm-answer"},
    },
    "spans": [
        span("c", "b", "S3.PutObject", "p2", 3_000, 2_000),
        span("a", None, "send workflow-queue", "p1", 0, 500),
        span("d", "a", "process questions-topic", "p3", 9_000, 1_000),
        span("b", "a", "process workflow-queue", "p2", 2_000, 6_000),
    ],
}


def test_a_trace_shows_each_span_under_its_parent_with_its_times() -> None:
    lines = waterfall(parsed(TRACE))
    assert lines[0] == "4 spans over 10.0 ms"
    labels = [line[57:] for line in lines[1:]]  # after the times and the 30-wide bar
    assert labels == [
        "coordinator: send workflow-queue",
        "  engine-start: process workflow-queue",
        "    engine-start: S3.PutObject",
        "  crm-answer: process questions-topic",
    ]
    assert lines[3][25:55] == " " * 9 + "#" * 6 + " " * 15, "3 to 5 ms of 10 ms, in 30 columns"
    assert lines[2].split()[:4] == ["2.0", "ms", "6.0", "ms"]
    assert lines[1].split()[:4] == ["0.0", "ms", "0.5", "ms"]


def test_billing_trace_of_a_customer_billed_by_a_retry_finds_the_retry(harness: Harness) -> None:
    """Once: cli/trace.workflow_of takes the bill's folder (the
    lineage's first run) for the run that wrote it and looks for the customer among that
    run's billed ones; the first run counts the customer failed, so `billing trace 1`
    says "run ... does not list customer 1". The bill's metadata names its workflow."""
    _, retry_id = billed_by_a_retry(harness)
    api: Any = HarnessApi(harness)
    try:
        workflow = workflow_of(api, "1")
    except CliError as exc:
        pytest.fail(f"billing trace 1: {exc}")
    assert WorkflowId(workflow).run_id == retry_id
