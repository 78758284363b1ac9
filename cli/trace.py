"""``billing trace <customer id | workflow id>``: one workflow's trace as a waterfall,
read from the trace backend's query API (Jaeger's ``/api/traces``, `make up TRACES=1`).

A workflow's spans are found by the key its records carry (the workflow id) in
engine-start's ``process`` span; a customer id stands for that customer's latest bill's
workflow.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cli.api import Api, CliError
from functions.wire.identifiers import WorkflowId

SEARCHED_SERVICE = "engine-start"
WORKFLOW_KEY = "messaging.kafka.message.key"
_BAR_WIDTH = 30


@dataclass(frozen=True)
class Span:
    span_id: str
    parent_id: str | None
    service: str
    name: str
    start_us: int
    duration_us: int


def workflow_of(api: Api, given: str) -> str:
    """``given`` if it is a workflow id (``<run id>-<n>``), else the workflow of the given
    customer's latest bill."""
    if WorkflowId(given).run_id is not None:
        return given
    found = sorted(api.bills(), key=lambda bill: (bill.modified, bill.name))
    named = [bill for bill in found if bill.name.endswith(f"/customer-bill-{given}.txt")]
    if not named:
        raise CliError(f"no bill for customer {given} yet; give a workflow id instead")
    # The bill names the workflow that wrote it: a retry's is under its lineage's first run.
    writer = api.bill_writer(named[-1].name)
    if writer is None:
        raise CliError(f"bill {named[-1].name} names no workflow; give a workflow id instead")
    return writer


def _get(base: str, path: str) -> Any:
    try:
        with urllib.request.urlopen(base.rstrip("/") + path, timeout=30) as response:
            return json.load(response)
    except (urllib.error.URLError, OSError) as exc:
        cause = getattr(exc, "reason", exc)
        raise CliError(
            f"cannot reach the trace backend at {base} ({cause}); `make up TRACES=1` starts"
            " one, TRACES_URL names another"
        ) from None


def spans_of(base: str, workflow_id: str) -> list[Span]:
    """The spans of the workflow's trace, from Jaeger's query API."""
    tags = json.dumps({WORKFLOW_KEY: workflow_id})
    query = urllib.parse.urlencode(
        {"service": SEARCHED_SERVICE, "tags": tags, "limit": 1, "lookback": "7d"}
    )
    found = _get(base, f"/api/traces?{query}").get("data") or []
    if not found:
        raise CliError(
            f"the trace backend has no trace of workflow {workflow_id} (yet: spans leave a"
            " process within a few seconds; is tracing on? `make up TRACES=1`)"
        )
    trace_id = found[0]["traceID"]
    [trace] = _get(base, f"/api/traces/{trace_id}")["data"]
    return parsed(trace)


def parsed(trace: Mapping[str, Any]) -> list[Span]:
    services = {pid: process["serviceName"] for pid, process in trace["processes"].items()}
    spans = []
    for item in trace["spans"]:
        parents = [
            ref["spanID"] for ref in item.get("references", []) if ref["refType"] == "CHILD_OF"
        ]
        spans.append(
            Span(
                item["spanID"],
                parents[0] if parents else None,
                services.get(item["processID"], "?"),
                item["operationName"],
                int(item["startTime"]),
                int(item["duration"]),
            )
        )
    return spans


def waterfall(spans: Sequence[Span]) -> list[str]:
    """A line a span, children under their parent, each with its start and duration from
    the trace's first span and a bar where it falls."""
    known = {span.span_id for span in spans}
    children: dict[str | None, list[Span]] = {}
    for span in spans:
        parent = span.parent_id if span.parent_id in known else None
        children.setdefault(parent, []).append(span)
    start = min(span.start_us for span in spans)
    end = max(span.start_us + span.duration_us for span in spans)
    scale = _BAR_WIDTH / max(end - start, 1)
    lines = [f"{len(spans)} spans over {(end - start) / 1000:.1f} ms"]

    def show(span: Span, depth: int) -> None:
        offset, length = span.start_us - start, span.duration_us
        bar_start = int(offset * scale)
        bar = " " * bar_start + "#" * max(1, int(length * scale))
        label = f"{'  ' * depth}{span.service}: {span.name}"
        lines.append(
            f"{offset / 1000:8.1f} ms {length / 1000:8.1f} ms  {bar:<{_BAR_WIDTH}}  {label}"
        )
        for child in sorted(children.get(span.span_id, []), key=lambda s: s.start_us):
            show(child, depth + 1)

    for root in sorted(children.get(None, []), key=lambda s: s.start_us):
        show(root, 0)
    return lines


def trace(api: Api, given: str) -> int:
    workflow_id = workflow_of(api, given)
    spans = spans_of(api.settings.traces_address, workflow_id)
    print(f"workflow {workflow_id}: " + "\n".join(waterfall(spans)))
    return 0
