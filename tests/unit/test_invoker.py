"""The per-record logic of the Kafka runtime: typed call, dead letters, storage retries."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from prometheus_client import REGISTRY

from functions.context import FunctionContext
from functions.errors import StorageUnavailable
from functions.wire.identifiers import WorkflowId
from functions.wire.messages import Answer, Outgoing, Stream
from runtime.config import FunctionSettings
from runtime.kafka.invoker import BatchInvoker, Invoker
from runtime.kafka.records import Record
from runtime.triggers import BY_FUNCTION, Trigger

WORKFLOW = json.dumps(
    {
        "workflow-type": "bill-generation",
        "workflow-id": 7,
        "create-time": "",
        "payload": {"customerIdentifier": "1"},
    }
).encode()


def record(value: bytes | None, partition: int = 0, offset: int = 1, **extra: Any) -> Record:
    return Record(value, "workflow-queue", partition, offset, **extra)


def invoker(trigger: Trigger[Any], context: FunctionContext, settings: FunctionSettings) -> Invoker:
    return Invoker(trigger, settings, context, sleep=lambda _seconds: None)


def test_a_workflow_becomes_a_question_on_the_questions_topic(
    context: FunctionContext, unit_settings: FunctionSettings
) -> None:
    produced = invoker(BY_FUNCTION["engine-start"], context, unit_settings)(record(WORKFLOW))
    assert [p.topic for p in produced] == ["questions-topic"]
    assert produced[0].key == b"7"
    assert json.loads(produced[0].value) == {
        "questionCategory": "customer",
        "qaIdentifier": 7,
        "payload": {"customerIdentifier": "1"},
    }


@pytest.mark.parametrize("raw", [b"{oops", None, b'{"workflow-type": "bill-generation"}'])
def test_malformed_records_are_dead_lettered_with_the_reason(
    raw: bytes | None, context: FunctionContext, unit_settings: FunctionSettings
) -> None:
    origin = record(raw, partition=2, offset=9, key=b"k", headers=[("trace", b"abc")])
    produced = invoker(BY_FUNCTION["engine-start"], context, unit_settings)(origin)
    assert len(produced) == 1
    dead = produced[0]
    assert dead.topic == "workflow-queue.dlq"
    assert dead.value == (raw or b"")
    assert dead.key == b"k"
    headers = dict(dead.headers)
    assert headers["trace"] == b"abc"
    assert headers["dlq-function"] == b"engine-start"
    assert headers["dlq-source-topic"] == b"workflow-queue"
    assert headers["dlq-source-partition"] == b"2"
    assert headers["dlq-source-offset"] == b"9"
    assert headers["dlq-error"].startswith(b"MalformedMessage")


def test_a_record_that_breaks_the_function_is_dead_lettered_not_fatal(
    context: FunctionContext, unit_settings: FunctionSettings
) -> None:
    def broken(_message: object, _context: FunctionContext) -> list[Outgoing]:
        raise KeyError("surprise")

    trigger = replace(BY_FUNCTION["engine-start"], handler=broken)
    produced = invoker(trigger, context, unit_settings)(record(WORKFLOW))
    assert [p.topic for p in produced] == ["workflow-queue.dlq"]
    assert b"KeyError" in dict(produced[0].headers)["dlq-error"]


def test_output_to_an_undeclared_stream_is_refused(
    context: FunctionContext, unit_settings: FunctionSettings
) -> None:
    def strays(_message: object, _context: FunctionContext) -> list[Outgoing]:
        return [Outgoing(Stream.ANSWERS, Answer(WorkflowId(1), None, "x"))]

    trigger = replace(BY_FUNCTION["engine-start"], handler=strays)
    produced = invoker(trigger, context, unit_settings)(record(WORKFLOW))
    assert produced[0].topic == "workflow-queue.dlq"
    assert b"declared outputs" in dict(produced[0].headers)["dlq-error"]


def test_storage_outages_are_retried_then_raised_so_nothing_is_committed(
    context: FunctionContext, unit_settings: FunctionSettings
) -> None:
    calls = []

    def flaky(_message: object, _context: FunctionContext) -> list[Outgoing]:
        calls.append(1)
        if len(calls) < 3:
            raise StorageUnavailable("S3 down")
        return []

    trigger = replace(BY_FUNCTION["engine-start"], handler=flaky)
    assert invoker(trigger, context, unit_settings)(record(WORKFLOW)) == []
    assert len(calls) == 3

    def down(_message: object, _context: FunctionContext) -> list[Outgoing]:
        raise StorageUnavailable("S3 down for good")

    impatient = replace(unit_settings, storage_retry_s=0.01)
    with pytest.raises(StorageUnavailable):
        invoker(replace(trigger, handler=down), context, impatient)(record(WORKFLOW))


def test_outcomes_are_counted_per_function(
    s3_context: FunctionContext, unit_settings: FunctionSettings
) -> None:
    def count(outcome: str) -> float:
        value = REGISTRY.get_sample_value(
            "billing_messages_total", {"function": "engine-start", "outcome": outcome}
        )
        return value or 0.0

    before = {outcome: count(outcome) for outcome in ("processed", "dead_lettered")}
    run = invoker(BY_FUNCTION["engine-start"], s3_context, unit_settings)
    run(record(WORKFLOW))
    run(record(b"{oops"))
    assert count("processed") == before["processed"] + 1
    assert count("dead_lettered") == before["dead_lettered"] + 1
    s3_puts = REGISTRY.get_sample_value("billing_s3_requests_total", {"operation": "PutObject"})
    assert s3_puts is not None and s3_puts >= 2


def _workflows(run: str, count: int) -> list[Record]:
    return [
        record(
            json.dumps(
                {
                    "workflow-type": "bill-generation",
                    "workflow-id": f"{run}-{n}",
                    "create-time": "",
                    "payload": {"customerIdentifier": str(n)},
                }
            ).encode(),
            offset=n,
        )
        for n in range(1, count + 1)
    ]


def _puts() -> float:
    return REGISTRY.get_sample_value("billing_s3_requests_total", {"operation": "PutObject"}) or 0


def test_the_writes_a_trigger_declares_are_made_once_a_batch_before_its_outputs(
    s3_context: FunctionContext, unit_settings: FunctionSettings
) -> None:
    engine_start = BY_FUNCTION["engine-start"]
    assert s3_context.new_jobs in engine_start.per_batch(s3_context)
    before = _puts()
    outputs = BatchInvoker(engine_start, unit_settings, s3_context).invoke_batch(
        _workflows("run-20261201T000000-0000000a", 5)
    )
    assert len(outputs) == 5
    assert _puts() - before == 1, "the batch's five jobs are one object"

    # Without the declaration, each job is written as its function keeps it.
    undeclared = replace(engine_start, per_batch=lambda _: ())
    before = _puts()
    BatchInvoker(undeclared, unit_settings, s3_context).invoke_batch(
        _workflows("run-20261201T000000-0000000b", 5)
    )
    assert _puts() - before == 5
    assert s3_context.new_jobs not in BY_FUNCTION["crm-answer"].per_batch(s3_context)
