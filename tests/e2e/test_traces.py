"""One trace a workflow, end to end: the coordinator, the runtime's functions and S3 send
their spans over OTLP to a real Jaeger (the backend `make up TRACES=1` starts), whose query
API `billing trace` reads."""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests

from infra import traces
from infra.components import http_answers
from runtime.config import StackSettings
from tests.helpers.cli import TOKEN, billing
from tests.helpers.ports import free_port_block
from tests.helpers.processes import Processes, start_http_function
from tests.helpers.waiting import wait_for

SEED = [str(n) for n in range(1, 9)]
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def traced(
    settings: StackSettings,
    processes: Processes,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> StackSettings:
    """Jaeger on ports of the test's own; every process started after it sends it spans."""
    grpc = free_port_block(3)
    stack = replace(
        settings,
        auth_token=TOKEN,
        traces_query_port=grpc + 1,
        traces_otlp_port=grpc + 2,
        traces_url=f"http://127.0.0.1:{grpc + 1}",
    )
    processes.start(traces.prepare(tmp_path, stack), stack, "jaeger")
    wait_for("Jaeger", lambda: http_answers(f"{stack.traces_address}/api/services"), 60)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", traces.otlp_endpoint(stack))
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")  # ms: spans leave at once
    return stack


def jaeger(stack: StackSettings, path: str) -> Any:
    return requests.get(f"{stack.traces_address}{path}", timeout=30).json()


def hops(stack: StackSettings) -> dict[str, tuple[str, str]]:
    """A workflow's spans by what they are: the coordinator's send, each function's process
    and send, the bill's PUT (the test's topics have names of their own)."""
    workflows, questions, answers = (
        stack.workflow_topic,
        stack.questions_topic,
        stack.answers_topic,
    )
    return {
        "root": ("coordinator", f"send {workflows}"),
        "start": ("engine-start", f"process {workflows}"),
        "asked": ("engine-start", f"send {questions}"),
        "answer": ("crm-answer", f"process {questions}"),
        "answered": ("crm-answer", f"send {answers}"),
        "complete": ("engine-complete", f"process {answers}"),
        "bill": ("engine-complete", "S3.PutObject"),
        "asked again": ("retry-unanswered", f"send {questions}"),
    }


def trace_of(
    stack: StackSettings, workflow_id: str, wanted: set[tuple[str, str]]
) -> dict[str, Any] | None:
    """The workflow's trace once it holds a span of each of ``wanted``, else None (spans
    leave each process on their own)."""
    tags = json.dumps({"messaging.kafka.message.key": workflow_id})
    query = urllib.parse.urlencode({"service": "engine-start", "tags": tags, "limit": 1})
    found = jaeger(stack, f"/api/traces?{query}").get("data") or []
    if not found:
        return None
    [trace] = jaeger(stack, f"/api/traces/{found[0]['traceID']}")["data"]
    return trace if wanted <= set(spans_by_name(trace)) else None


Spans = dict[tuple[str, str], dict[str, Any]]


def spans_by_name(trace: dict[str, Any]) -> Spans:
    """Each span by its service and name (the first, where a name repeats)."""
    services = {pid: p["serviceName"] for pid, p in trace["processes"].items()}
    named: Spans = {}
    for span in sorted(trace["spans"], key=lambda s: s["startTime"]):
        named.setdefault((services[span["processID"]], span["operationName"]), span)
    return named


def parent_of(span: dict[str, Any]) -> str | None:
    parents = [r["spanID"] for r in span["references"] if r["refType"] == "CHILD_OF"]
    return parents[0] if parents else None


def test_a_run_of_the_seed_customers_gives_a_trace_a_workflow(
    traced: StackSettings, processes: Processes
) -> None:
    coordinator, _ = start_http_function(processes, traced, "coordinator")
    start_http_function(processes, traced, "crm")
    processes.runtime("all", traced)
    started = requests.post(
        coordinator, json={"customerIdentifiers": SEED}, headers=BEARER, timeout=60
    )
    assert started.status_code == 202, started.text
    workflows = [w["workflowId"] for w in started.json()["workflows"]]
    hop = hops(traced)

    # The coordinator's send, the three functions' process and send spans, the bill's PUT.
    def whole_trace(workflow_id: str) -> dict[str, Any]:
        return wait_for(
            f"the trace of {workflow_id}",
            lambda: trace_of(traced, workflow_id, set(hop.values()) - {hop["asked again"]}),
            timeout_s=120,
        )

    found = [whole_trace(workflow_id) for workflow_id in workflows]
    assert len({trace["traceID"] for trace in found}) == 8, "a trace a workflow"
    for trace in found:
        spans = spans_by_name(trace)
        root, start, asked = spans[hop["root"]], spans[hop["start"]], spans[hop["asked"]]
        answer, answered = spans[hop["answer"]], spans[hop["answered"]]
        complete = spans[hop["complete"]]
        assert parent_of(root) is None
        assert parent_of(start) == root["spanID"]
        assert parent_of(asked) == start["spanID"]
        assert parent_of(answer) == asked["spanID"]
        assert parent_of(answered) == answer["spanID"]
        assert parent_of(complete) == answered["spanID"]
        bill = spans[hop["bill"]]
        assert parent_of(bill) == complete["spanID"], "the bill's PUT"
        links = [r for r in root["references"] if r["refType"] == "FOLLOWS_FROM"]
        assert len(links) == 1, "linked to the POST that started it"

    services = set(jaeger(traced, "/api/services")["data"])
    assert {"coordinator", "engine-start", "crm-answer", "engine-complete"} <= services
    query = "/api/traces?service=coordinator&operation=POST%20%2F&limit=5"
    [post_trace] = jaeger(traced, query)["data"]
    post = next(span for span in post_trace["spans"] if span["operationName"] == "POST /")
    linked = {
        link["spanID"]
        for trace in found
        for link in spans_by_name(trace)[hop["root"]]["references"]
    }
    assert linked == {post["spanID"]}, "every workflow's root links to the one request"

    shown = billing(replace(traced, coordinator_url=coordinator), "trace", workflows[0])
    assert shown.returncode == 0, shown.stderr
    assert f"workflow {workflows[0]}:" in shown.stdout
    assert f"engine-complete: process {traced.answers_topic}" in shown.stdout


def test_a_question_asked_again_by_the_timer_continues_its_workflows_trace(
    traced: StackSettings, processes: Processes
) -> None:
    patient = replace(traced, answer_timeout_s=1.0, retry_interval_s=1.0)
    coordinator, _ = start_http_function(processes, patient, "coordinator")
    start_http_function(processes, patient, "crm")
    for function in ("engine-start", "engine-complete", "retry-unanswered"):
        processes.runtime(function, patient)
    started = requests.post(
        coordinator, json={"customerIdentifiers": ["1"]}, headers=BEARER, timeout=60
    )
    workflow = started.json()["workflows"][0]["workflowId"]
    sweeper = processes.started[-1]
    sweeper.wait_for_output("1 asked again", timeout_s=60)  # no one answered the first
    processes.runtime("crm-answer", patient)

    hop = hops(patient)

    def asked_again_and_billed() -> Spans | None:
        wanted = {hop["root"], hop["asked again"], hop["bill"]}
        trace = trace_of(patient, workflow, wanted)
        return None if trace is None else spans_by_name(trace)

    spans = wait_for("the bill in the workflow's trace", asked_again_and_billed, timeout_s=120)
    root, again = spans[hop["root"]], spans[hop["asked again"]]
    assert parent_of(again) == root["spanID"], "the workflow's trace, from its root"
