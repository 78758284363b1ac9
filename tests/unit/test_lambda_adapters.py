"""The Lambda adapters, fed the events AWS documents (kept in tests/data/lambda/) and
function URL events built by hand: what they answer is what functions-framework answers."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode

from functions.context import FunctionContext
from functions.errors import StorageUnavailable
from functions.storage import Job
from functions.storage.memory_bucket import MemoryBuckets
from functions.wire.identifiers import WorkflowId
from runtime.aws_lambda import handlers
from runtime.aws_lambda.http import HttpAdapter
from runtime.aws_lambda.kafka import KafkaAdapter, records_of
from runtime.aws_lambda.schedule import ScheduleAdapter
from runtime.config import REPO, FunctionSettings
from runtime.http_function import HttpFunction
from runtime.services import Services
from runtime.triggers import BY_FUNCTION, TIMER_BY_FUNCTION, TRIGGERS
from tests.unit.harness import (
    Harness,
    QuietBacklog,
    RecordingOutput,
    RecordingPublisher,
    client,
    event,
    function_url_event,
)

TEMPLATE = REPO / "infra" / "aws" / "template.yaml"


@pytest.mark.parametrize("source", ["msk", "self-managed-kafka"])
def test_both_kafka_event_shapes_become_records_in_offset_order(source: str) -> None:
    records = records_of(event(source))
    workflow = next(r for r in records if r.key is not None)
    assert workflow.topic == "workflow-queue"
    assert workflow.key == b"1616523703935.42"
    assert json.loads(workflow.value or b"")["workflow-type"] == "bill-generation"
    assert workflow.headers == [("headerKey", b"headerValue")]
    assert [r.offset for r in records] == sorted(r.offset for r in records)


def test_engine_start_on_lambda_asks_the_question_and_parks_the_poison_record(
    context: FunctionContext, unit_settings: FunctionSettings
) -> None:
    output = RecordingOutput()
    adapter = KafkaAdapter(BY_FUNCTION["engine-start"], unit_settings, context, output)
    assert adapter(event("self-managed-kafka")) == {"records": 2, "outputs": 2}
    question, dead_letter = output.produced
    assert question.topic == "questions-topic"
    assert json.loads(question.value) == {
        "questionCategory": "customer",
        "qaIdentifier": 1616523703935.42,
        "payload": {"customerIdentifier": "1"},
    }
    assert dict(question.headers)["ce_source"] == b"/billing/engine-start"
    assert dead_letter.topic == "workflow-queue.dlq"
    assert dead_letter.value == b"not json at all"
    assert dict(dead_letter.headers)["dlq-source-offset"] == b"16"
    assert context.answer_jobs.find(WorkflowId(1616523703935.42)) is not None


def test_s3_unavailable_fails_the_invocation_so_lambda_retries_the_batch(
    context: FunctionContext, unit_settings: FunctionSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable(jobs: object) -> None:
        raise StorageUnavailable("S3 is down")

    monkeypatch.setattr(context.new_jobs, "write", unavailable)
    output = RecordingOutput()
    settings = FunctionSettings(s3_endpoint_url=None, storage_retry_s=0.1)
    adapter = KafkaAdapter(BY_FUNCTION["engine-start"], settings, context, output)
    with pytest.raises(StorageUnavailable):
        adapter(event("msk"))
    assert output.produced == [], "nothing of a failed batch goes out"


def test_a_function_url_event_starts_a_run_through_the_same_http_function(
    guarded: Harness,
) -> None:
    adapter = HttpAdapter(HttpFunction("coordinator", lambda: guarded.services))
    response = adapter(event("function-url"))
    assert response["statusCode"] == 202, response
    assert response["headers"]["Content-Type"] == "application/json"
    assert [w["customerIdentifier"] for w in json.loads(response["body"])["workflows"]] == [
        "1",
        "3",
    ]
    assert len(guarded.publisher.published) == 2


@pytest.mark.parametrize(
    ("change", "status", "text"),
    [
        ({"headers": {"content-type": "application/json"}}, 401, "bearer token is missing"),
        ({"body": "{not json"}, 400, "not valid JSON"),
        ({"rawPath": "/bills"}, 404, "no route for POST /bills"),
        ({"rawQueryString": "dry=1"}, 400, "unknown query parameter"),
    ],
)
def test_bad_input_gets_the_same_4xx_as_on_functions_framework(
    guarded: Harness, change: dict[str, Any], status: int, text: str
) -> None:
    adapter = HttpAdapter(HttpFunction("coordinator", lambda: guarded.services))
    response = adapter({**event("function-url"), **change})
    assert response["statusCode"] == status
    assert text in json.loads(response["body"])["detail"]
    assert guarded.publisher.published == []


def _lambda(harness: Harness, function: str, method: str, url: str) -> dict[str, Any]:
    """``url`` asked of ``function`` through a function URL's event."""
    adapter = HttpAdapter(HttpFunction(function, lambda: harness.services))
    answer: dict[str, Any] = adapter(function_url_event(method, url))
    return answer


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("GET", "/console/%61pp.js"),
        ("GET", "/%72uns"),
        ("GET", "/runs/run-20261128T001500-0a1b2c3d/bills/%31"),
        ("POST", "/runs/%72un-20261128T001500-0a1b2c3d/cancel"),
        ("GET", "/console/..%2Fcontext.py"),
    ],
)
def test_lambda_reads_a_percent_encoded_path_as_functions_framework_does(
    harness: Harness, method: str, url: str
) -> None:
    framework = client("coordinator").open(url, method=method)
    on_lambda = _lambda(harness, "coordinator", method, url)
    assert on_lambda["statusCode"] == framework.status_code, on_lambda["body"]
    assert on_lambda["body"] == framework.get_data(as_text=True)


@pytest.mark.parametrize(("function", "url"), [("coordinator", "/runs"), ("crm", "/customer-ids")])
def test_lambda_answers_a_head_as_functions_framework_does(
    harness: Harness, function: str, url: str
) -> None:
    """A GET's status and headers, no body: HEAD is taken wherever GET is (RFC 9110, 9.1)."""
    got, head = _lambda(harness, function, "GET", url), _lambda(harness, function, "HEAD", url)
    assert (head["statusCode"], head["body"]) == (got["statusCode"], "")
    assert head["headers"] == got["headers"]
    assert client(function).head(url).status_code == head["statusCode"]


def test_the_schedule_asks_overdue_questions_again(
    buckets: MemoryBuckets, unit_settings: FunctionSettings
) -> None:
    asked = datetime.now(UTC)
    publisher = RecordingPublisher()
    # The store lists by the bucket's write times: an hour later the question is overdue.
    services = Services(
        unit_settings,
        role="retry-unanswered",
        buckets=buckets,
        publisher=publisher,
        backlog=QuietBacklog(),
        clock=lambda: asked + timedelta(hours=1),
    )
    job = Job(WorkflowId("run-1-1"), "1", asked.isoformat(), asked.isoformat())
    services.context.new_jobs.create(job)
    timer = TIMER_BY_FUNCTION["retry-unanswered"]
    adapter = ScheduleAdapter(timer.function, timer.start(services))
    assert adapter(event("schedule")) == {"published": 1}
    [again] = publisher.published
    assert again.message.workflow_id == WorkflowId("run-1-1")


def test_every_function_has_an_entry_point_and_the_template_deploys_each() -> None:
    template, problems = decode(str(TEMPLATE))
    assert not problems, problems
    assert template is not None
    functions = {
        name: resource["Properties"]
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    deployed = {props["Handler"].rpartition(".")[2]: props for props in functions.values()}
    names = [t.function for t in TRIGGERS] + list(TIMER_BY_FUNCTION) + ["coordinator", "crm"]
    for function in names:
        entry = function.replace("-", "_")
        assert callable(getattr(handlers, entry)), f"no entry point for {function}"
        assert entry in deployed, f"{function} is not in {TEMPLATE.name}"
    settings = FunctionSettings()
    for trigger in TRIGGERS:
        props = deployed[trigger.function.replace("-", "_")]
        [source] = props["Events"].values()
        assert source["Properties"]["Topics"] == [settings.topic(trigger.source)]
        assert source["Properties"]["ConsumerGroupId"] == trigger.consumer_group


def test_the_template_passes_cfn_lint() -> None:
    """Offline, with the SAM transform: the errors and warnings `cfn-lint` reports."""
    cfn_lint = str(Path(sys.executable).parent / "cfn-lint")
    linted = subprocess.run([cfn_lint, str(TEMPLATE)], capture_output=True, text=True)
    assert linted.returncode == 0, linted.stdout + linted.stderr
