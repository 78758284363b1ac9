"""Lambda's Kafka event (Amazon MSK and self-managed Kafka) to the Kafka-triggered functions.

Lambda's event source mapping polls the topic and hands a batch: records grouped by
``<topic>-<partition>``, keys and values in base64, header values as lists of bytes. The
batch is processed the way the local runtime processes one (records in flight together,
outputs in record order) and the invocation returns once Kafka acknowledged every output.
A poison record goes to ``<topic>.dlq`` and the batch goes on. S3 being unavailable fails
the invocation, so that Lambda retries the whole batch; every write a function makes is a
create-if-absent or an idempotent delete, so a retried record changes nothing it already did.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from functions.context import FunctionContext
from functions.errors import MalformedMessage
from runtime.config import FunctionSettings
from runtime.kafka.acking_producer import AckingProducer
from runtime.kafka.clients import idempotent_producer
from runtime.kafka.invoker import BatchInvoker
from runtime.kafka.records import Produced, Record
from runtime.triggers import Trigger

log = logging.getLogger(__name__)

EVENT_SOURCES = ("aws:kafka", "SelfManagedKafka")


def records_of(event: Mapping[str, Any]) -> list[Record]:
    """The records of a Lambda Kafka event, partition by partition, each in offset order."""
    if event.get("eventSource") not in EVENT_SOURCES:
        raise MalformedMessage(
            f"not a Kafka event (eventSource {event.get('eventSource')!r}); this function is"
            f" triggered by an MSK or self-managed Kafka event source mapping"
        )
    records = []
    for batch in event.get("records", {}).values():
        for item in sorted(batch, key=lambda r: r["offset"]):
            records.append(
                Record(
                    value=_bytes(item.get("value")),
                    topic=item["topic"],
                    partition=int(item["partition"]),
                    offset=int(item["offset"]),
                    key=_bytes(item.get("key")),
                    headers=_headers(item.get("headers") or []),
                )
            )
    return records


def _bytes(encoded: str | None) -> bytes | None:
    return None if encoded is None else base64.b64decode(encoded)


def _headers(headers: Sequence[Mapping[str, Sequence[int]]]) -> list[tuple[str, bytes]]:
    """``[{"name": [104, 105]}]``, as Lambda sends them, to Kafka's (name, bytes) pairs."""
    return [(name, bytes(value)) for header in headers for name, value in header.items()]


class Output(Protocol):
    def send(self, items: Sequence[Produced]) -> None: ...

    def wait_for_acks(self, then: str) -> None: ...


class KafkaAdapter(BatchInvoker):
    """One Kafka-triggered function as a Lambda handler; built once per cold start."""

    def __init__(
        self,
        trigger: Trigger[Any],
        settings: FunctionSettings,
        context: FunctionContext,
        output: Output | None = None,
    ) -> None:
        super().__init__(trigger, settings, context)
        self.output = output or AckingProducer(
            idempotent_producer(settings), settings.publish_timeout_s
        )

    def __call__(self, event: Mapping[str, Any], _lambda_context: object = None) -> dict[str, int]:
        records = records_of(event)
        outputs = self.invoke_batch(records)
        self.output.send(outputs)
        self.output.wait_for_acks("Lambda retries the batch")
        log.info(
            "%s: %d record(s), %d output(s)", self.trigger.function, len(records), len(outputs)
        )
        return {"records": len(records), "outputs": len(outputs)}
