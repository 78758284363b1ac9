"""Calls one Kafka-triggered function for one record (``runtime.batches`` runs many at once).

Per record: decode and type the message, call the function, say what to produce. The
function's S3 writes are done before it returns.

A record that cannot be processed (malformed, or one that makes the function fail)
goes to ``<source topic>.dlq`` with its original key and bytes and headers saying
where it came from and why, and the stream keeps going. S3 being unreachable is not
the record's fault: it is retried with backoff, then the worker stops without
committing, so the record is processed again on restart.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from functions.context import FunctionContext
from functions.errors import MalformedMessage, StorageUnavailable
from functions.log_context import about_workflow
from functions.messages import Outgoing, decode_object, encode
from runtime import cloudevents
from runtime.config import Settings
from runtime.metrics import HANDLER_SECONDS, MESSAGES
from runtime.triggers import Trigger

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Record:
    """A consumed record, and where it came from."""

    value: bytes | None
    topic: str
    partition: int = 0
    offset: int = 0
    key: bytes | None = None
    headers: Sequence[tuple[str, bytes]] = ()

    @property
    def origin(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"


@dataclass(frozen=True)
class Produced:
    """A record on its way out: the topic, its key, the encoded value, its headers."""

    topic: str
    value: bytes
    key: bytes | None = None
    headers: cloudevents.Headers = field(default_factory=list)


class Invoker:
    """Calls one function for one raw record and says what to produce."""

    def __init__(
        self,
        trigger: Trigger[Any],
        settings: Settings,
        context: FunctionContext,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.trigger = trigger
        self.settings = settings
        self.context = context
        self._sleep = sleep

    def __call__(self, record: Record) -> list[Produced]:
        try:
            message = self.trigger.message.from_wire(decode_object(record.value))
        except MalformedMessage as exc:
            return self._malformed(record, exc)
        with about_workflow(message.workflow_id):
            return self._invoke(message, record)

    def _invoke(self, message: Any, record: Record) -> list[Produced]:
        function = self.trigger.function
        try:
            with HANDLER_SECONDS.labels(function).time():
                outgoing = self._call_retrying_storage(message)
            self.trigger.check_outputs(outgoing)
            result = [produced(item, self.settings, function) for item in outgoing]
            MESSAGES.labels(function, "processed").inc()
            return result
        except MalformedMessage as exc:
            return self._malformed(record, exc)
        except StorageUnavailable:
            raise
        except Exception as exc:
            # A record that breaks the function is parked, not allowed to stop the stream.
            log.exception("%s: dead-lettering record %s that failed", function, record.origin)
            MESSAGES.labels(function, "failed").inc()
            return [self._dead_letter(record, exc)]

    def _malformed(self, record: Record, exc: MalformedMessage) -> list[Produced]:
        function = self.trigger.function
        log.warning("%s: dead-lettering malformed record %s: %s", function, record.origin, exc)
        return [self._dead_letter(record, exc)]

    def _call_retrying_storage(self, message: Any) -> list[Outgoing]:
        return retrying_storage(
            self.trigger.function,
            lambda: self.trigger.handler(message, self.context),
            self.settings.storage_retry_s,
            self._sleep,
        )

    def _dead_letter(self, record: Record, exc: Exception) -> Produced:
        MESSAGES.labels(self.trigger.function, "dead_lettered").inc()
        reason = f"{type(exc).__name__}: {exc}"
        headers: cloudevents.Headers = [
            *cloudevents.for_dead_letter(record.headers, self.trigger.function),
            ("dlq-source-topic", record.topic.encode()),
            ("dlq-source-partition", str(record.partition).encode()),
            ("dlq-source-offset", str(record.offset).encode()),
            ("dlq-function", self.trigger.function.encode()),
            ("dlq-error", reason.encode()[:2000]),
        ]
        return Produced(
            self.settings.dead_letter_topic(record.topic), record.value or b"", record.key, headers
        )


def produced(outgoing: Outgoing, settings: Settings, function: str) -> Produced:
    topic = settings.topic(outgoing.stream)
    message = outgoing.message
    return Produced(
        topic,
        encode(message),
        message.partition_key.encode(),
        cloudevents.for_message(message, function),
    )


class BatchInvoker:
    """Calls one function on every record of a batch at once: the base of the local
    runtime's batch loop and of Lambda's Kafka adapter."""

    def __init__(self, trigger: Trigger[Any], settings: Settings, context: FunctionContext):
        self.trigger = trigger
        self.settings = settings
        self.context = context
        self.invoke: Callable[[Record], list[Produced]] = Invoker(trigger, settings, context)
        self.pool = ThreadPoolExecutor(settings.max_in_flight, thread_name_prefix="record")

    def invoke_batch(self, records: Sequence[Record]) -> list[Produced]:
        """Every record at once, on the pool; the outputs in record order.

        The jobs the batch creates are written together, once all records are done and
        before any output leaves (an answer must find its job). A StorageUnavailable that
        outlasts ``STORAGE_RETRY_S`` is raised: nothing of the batch may count as done.
        """
        function, retry_s = self.trigger.function, self.settings.storage_retry_s
        with self.context.jobs.batch() as write_jobs:
            outputs = list(self.pool.map(self.invoke, records))
            retrying_storage(function, write_jobs, retry_s, time.sleep)
        return [item for produced in outputs for item in produced]


def retrying_storage(
    function: str, call: Callable[[], T], retry_s: float, sleep: Callable[[float], None]
) -> T:
    """``call()``, retried with backoff while S3 is unavailable, for up to ``retry_s``."""
    deadline = time.monotonic() + retry_s
    delay = 0.5
    while True:
        try:
            return call()
        except StorageUnavailable as exc:
            if time.monotonic() + delay > deadline:
                log.error("%s: storage still unavailable, stopping: %s", function, exc)
                raise
            log.warning("%s: %s; retrying in %.1fs", function, exc, delay)
            sleep(delay)
            delay = min(delay * 2, 10.0)


def kafka_client_config(settings: Settings) -> tuple[dict[str, Any], dict[str, Any]]:
    """librdkafka settings for a worker's (consumer, producer)."""
    session_ms = int(settings.session_timeout_s * 1000)
    consumer = {
        "session.timeout.ms": session_ms,
        "heartbeat.interval.ms": max(500, session_ms // 4),
        # What librdkafka fetches ahead (64 MiB by default, and a fetch on top) is memory a
        # backlog would fill: a worker's memory would grow with the lines it serves. 1 MiB
        # queued and 256 KiB a partition a fetch are still thousands of our records.
        "queued.max.messages.kbytes": 1024,
        "max.partition.fetch.bytes": 256 * 1024,
    }
    # An open transaction of a crashed worker holds back readers until it times out;
    # it must outlast the S3 retries a healthy worker may spend inside one.
    producer = {"transaction.timeout.ms": int((settings.storage_retry_s + 15) * 1000)}
    return consumer, producer
