"""One trace a workflow: the context a record carries reaches the spans of the function
that processes it and the messages it sends, through the SDK's in-memory exporter."""

from __future__ import annotations

import json
from collections.abc import Iterator
from copy import deepcopy

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from functions.context import FunctionContext
from functions.storage import Job
from functions.wire.identifiers import WorkflowId
from functions.wire.messages import Outgoing, Question, Stream
from runtime import tracing
from runtime.aws_lambda.kafka import KafkaAdapter
from runtime.config import FunctionSettings
from runtime.kafka.invoker import BatchInvoker
from runtime.kafka.records import Produced, Record, produced
from runtime.triggers import BY_FUNCTION
from tests.unit.harness import RecordingOutput, S3Harness, client, event

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE}-{PARENT}-01"
WORKFLOW = json.dumps(
    {
        "workflow-type": "bill-generation",
        "workflow-id": "run-20261201T080000-0a1b2c3d-1",
        "create-time": "",
        "payload": {"customerIdentifier": "1"},
    }
).encode()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing.use(TracerProvider(), SimpleSpanProcessor(exporter))
    yield exporter
    tracing.stop()


def named(exporter: InMemorySpanExporter, prefix: str) -> list[ReadableSpan]:
    return [span for span in exporter.get_finished_spans() if span.name.startswith(prefix)]


def trace_of(span: ReadableSpan) -> str:
    assert span.context is not None
    return f"{span.context.trace_id:032x}"


def headers_of(output: Produced) -> dict[str, str]:
    names = [name for name, _ in output.headers]
    assert len(names) == len(set(names)), f"a header twice: {names}"
    return {name: value.decode() for name, value in output.headers}


def engine_start_batch(
    context: FunctionContext, settings: FunctionSettings, *records: Record
) -> list[Produced]:
    return BatchInvoker(BY_FUNCTION["engine-start"], settings, context).invoke_batch(records)


def workflow(headers: list[tuple[str, bytes]], offset: int = 1) -> Record:
    return Record(WORKFLOW, "workflow-queue", 0, offset, b"run-1", headers)


def test_off_nothing_is_added_and_nothing_starts(
    context: FunctionContext, unit_settings: FunctionSettings
) -> None:
    assert not tracing.configure(FunctionSettings(), "engine-start")
    assert not tracing.configure(
        FunctionSettings(otel_exporter_otlp_endpoint="http://x", otel_sdk_disabled="true"), "f"
    )
    assert not tracing.enabled()
    [question] = engine_start_batch(
        context, unit_settings, workflow([("traceparent", TRACEPARENT.encode())])
    )
    assert not {"traceparent", "ce_traceparent"} & set(headers_of(question))


def test_a_records_context_reaches_its_spans_its_job_and_its_outputs(
    spans: InMemorySpanExporter, s3_context: FunctionContext, unit_settings: FunctionSettings
) -> None:
    [question] = engine_start_batch(
        s3_context, unit_settings, workflow([("traceparent", TRACEPARENT.encode())])
    )

    [process] = named(spans, "process workflow-queue")
    assert process.kind is SpanKind.CONSUMER
    assert trace_of(process) == TRACE
    assert process.parent is not None and f"{process.parent.span_id:016x}" == PARENT
    assert process.attributes is not None
    assert process.attributes["messaging.system"] == "kafka"
    assert process.attributes["messaging.kafka.offset"] == 1
    [send] = named(spans, "send questions-topic")
    assert send.kind is SpanKind.PRODUCER and send.parent == process.context
    [receive] = named(spans, "receive workflow-queue")
    assert [link.context.trace_id for link in receive.links] == [int(TRACE, 16)]
    s3 = [span for span in spans.get_finished_spans() if span.name == "S3.PutObject"]
    assert s3 and s3[0].kind is SpanKind.CLIENT, "the job's batch write"
    assert s3[0].attributes is not None
    assert s3[0].attributes["aws.s3.bucket"] == unit_settings.jobs_bucket
    assert s3[0].attributes["http.response.status_code"] == 200
    assert s3[0].parent == receive.context, "written for the whole batch"

    sent = headers_of(question)
    assert sent["traceparent"].split("-")[1] == TRACE
    assert send.context is not None
    assert sent["traceparent"].split("-")[2] == f"{send.context.span_id:016x}", "replaced"
    assert sent["ce_traceparent"] == TRACEPARENT, "the workflow's root, kept"
    job = s3_context.answer_jobs.find(WorkflowId("run-20261201T080000-0a1b2c3d-1"))
    assert job is not None and job.trace == TRACEPARENT


def test_a_redelivered_record_continues_its_own_trace(
    spans: InMemorySpanExporter, context: FunctionContext, unit_settings: FunctionSettings
) -> None:
    again = workflow([("traceparent", TRACEPARENT.encode()), ("ce_traceparent", b"junk")])
    engine_start_batch(context, unit_settings, again)
    engine_start_batch(context, unit_settings, again)
    processes = named(spans, "process workflow-queue")
    assert [trace_of(span) for span in processes] == [TRACE, TRACE]


@pytest.mark.parametrize(
    "headers",
    [
        [],  # as the lab's services write them
        [("traceparent", b"not a traceparent")],
        [("traceparent", f"00-{'0' * 32}-{PARENT}-01".encode())],
        [("traceparent", (TRACEPARENT + "-" + "x" * 600).encode())],
        [("traceparent", TRACEPARENT.encode()), ("traceparent", TRACEPARENT.encode())],
        [("traceparent", TRACEPARENT.encode()), ("tracestate", b"k=" + b"v" * 600)],
        [("traceparent", TRACEPARENT.encode()), ("tracestate", b"a=1"), ("tracestate", b"b=2")],
        [("traceparent", b"\xff\xfe")],
    ],
)
def test_a_bad_context_from_outside_starts_a_new_trace_and_fails_nothing(
    spans: InMemorySpanExporter,
    context: FunctionContext,
    unit_settings: FunctionSettings,
    headers: list[tuple[str, bytes]],
) -> None:
    [question] = engine_start_batch(context, unit_settings, workflow(headers))
    assert question.topic == "questions-topic", "not dead-lettered"
    [process] = named(spans, "process workflow-queue")
    assert process.parent is None and trace_of(process) != TRACE
    sent = headers_of(question)
    assert sent["traceparent"].split("-")[1] == trace_of(process)
    assert sent["ce_traceparent"].split("-")[1] == trace_of(process)


def test_each_workflow_a_coordinator_sends_starts_a_trace_linked_to_its_request(
    spans: InMemorySpanExporter, unit_settings: FunctionSettings
) -> None:
    questions = [
        Outgoing(Stream.QUESTIONS, Question.about_customer(WorkflowId(f"w-{n}"), str(n)))
        for n in range(3)
    ]
    with tracing.serving("POST", "/", {"traceparent": TRACEPARENT}):
        sent = [headers_of(produced(q, unit_settings, "coordinator")) for q in questions]
    traces = {headers["traceparent"].split("-")[1] for headers in sent}
    assert len(traces) == 3 and TRACE not in traces, "a trace of its own each"
    assert all(headers["ce_traceparent"] == headers["traceparent"] for headers in sent)
    [server] = named(spans, "POST /")
    assert server.kind is SpanKind.SERVER and trace_of(server) == TRACE
    for send in named(spans, "send questions-topic"):
        assert send.parent is None
        assert [link.context.span_id for link in send.links] == [server.context.span_id]


def test_a_question_asked_again_continues_its_workflows_trace(
    spans: InMemorySpanExporter, context: FunctionContext, unit_settings: FunctionSettings
) -> None:
    job = Job(WorkflowId("w-1"), "1", "2021-03-23T18:21:47Z", "2021-03-23T18:21:47Z")
    traced = Outgoing(
        Stream.QUESTIONS, Question.about_customer(job.workflow_id, "1"), trace=TRACEPARENT
    )
    with tracing.span("retry-unanswered tick"):
        sent = headers_of(produced(traced, unit_settings, "retry-unanswered"))
    [send] = named(spans, "send questions-topic")
    assert trace_of(send) == TRACE and send.parent is not None
    assert f"{send.parent.span_id:016x}" == PARENT
    [tick] = named(spans, "retry-unanswered tick")
    assert [link.context.span_id for link in send.links] == [tick.context.span_id]
    assert sent["ce_traceparent"] == TRACEPARENT


def test_an_http_function_continues_the_callers_trace_or_drops_a_bad_one(
    spans: InMemorySpanExporter, s3_harness: S3Harness
) -> None:
    coordinator = client("coordinator")
    assert coordinator.get("/runs", headers={"traceparent": TRACEPARENT}).status_code == 200
    assert coordinator.get("/runs", headers={"traceparent": "00-bad"}).status_code == 200
    followed, fresh = named(spans, "GET /runs")
    assert trace_of(followed) == TRACE and followed.parent is not None
    assert fresh.parent is None and trace_of(fresh) != TRACE
    assert followed.attributes is not None
    assert followed.attributes["http.response.status_code"] == 200
    s3 = [span for span in spans.get_finished_spans() if span.name.startswith("S3.")]
    assert any(span.parent == followed.context for span in s3), "the run listing's request"


@pytest.mark.parametrize("source", ["msk", "self-managed-kafka"])
def test_on_lambda_the_context_comes_from_the_events_byte_array_headers(
    spans: InMemorySpanExporter,
    context: FunctionContext,
    unit_settings: FunctionSettings,
    source: str,
) -> None:
    shaped = deepcopy(event(source))
    for batch in shaped["records"].values():
        for item in batch:
            item["headers"] = [{"traceparent": list(TRACEPARENT.encode())}]
    output = RecordingOutput()
    KafkaAdapter(BY_FUNCTION["engine-start"], unit_settings, context, output)(shaped)
    processes = named(spans, "process workflow-queue")
    assert processes and all(trace_of(span) == TRACE for span in processes)
    question = next(p for p in output.produced if p.topic == "questions-topic")
    assert headers_of(question)["ce_traceparent"] == TRACEPARENT


def test_with_32_records_in_flight_each_keeps_its_own_trace(
    spans: InMemorySpanExporter, context: FunctionContext, unit_settings: FunctionSettings
) -> None:
    traces = [f"{n + 1:032x}" for n in range(32)]
    records = [
        Record(
            json.dumps(
                {
                    "workflow-type": "bill-generation",
                    "workflow-id": f"run-20261201T080000-0a1b2c3d-{n + 1}",
                    "create-time": "",
                    "payload": {"customerIdentifier": str(n + 1)},
                }
            ).encode(),
            "workflow-queue",
            n % 4,
            n,
            f"k{n}".encode(),
            [("traceparent", f"00-{trace}-{PARENT}-01".encode())],
        )
        for n, trace in enumerate(traces)
    ]
    questions = engine_start_batch(context, unit_settings, *records)
    assert [headers_of(q)["traceparent"].split("-")[1] for q in questions] == traces
    by_offset = {
        span.attributes["messaging.kafka.offset"]: trace_of(span)
        for span in named(spans, "process workflow-queue")
        if span.attributes is not None
    }
    assert [by_offset[n] for n in range(32)] == traces
    [receive] = named(spans, "receive workflow-queue")
    assert len(receive.links) == 32
    assert all(span.end_time is not None for span in spans.get_finished_spans())
