"""Calls one Kafka-triggered function for one record, or for every record of a batch at once.

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
from contextlib import ExitStack
from typing import Any, TypeVar

from functions.context import FunctionContext
from functions.errors import MalformedMessage, StorageUnavailable
from functions.log_context import about_workflow
from functions.wire.messages import Outgoing, decode_object
from runtime import cloudevents, tracing
from runtime.config import FunctionSettings
from runtime.config.tuning import STORAGE_RETRY_FIRST_S, STORAGE_RETRY_MOST_S
from runtime.kafka.records import Produced, Record, produced
from runtime.metrics import HANDLER_SECONDS, MESSAGES
from runtime.triggers import Trigger

log = logging.getLogger(__name__)

T = TypeVar("T")


class Invoker:
    """Calls one function for one raw record and says what to produce."""

    def __init__(
        self,
        trigger: Trigger[Any],
        settings: FunctionSettings,
        context: FunctionContext,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.trigger = trigger
        self.settings = settings
        self.context = context
        self._sleep = sleep

    def __call__(self, record: Record) -> list[Produced]:
        with tracing.processing(
            record.topic,
            record.partition,
            record.offset,
            record.key,
            record.headers,
            self.settings.consumer_group_prefix + self.trigger.consumer_group,
        ):
            try:
                message = self.trigger.message.from_wire(decode_object(record.value))
            except MalformedMessage as exc:
                return self._malformed(record, exc)
            except Exception as exc:  # a record no parser foresaw is parked all the same
                log.exception(
                    "%s: dead-lettering unreadable record %s", self.trigger.function, record.origin
                )
                return [self._dead_letter(record, exc)]
            with about_workflow(message.workflow_id):
                return self._invoke(message, record)

    def _invoke(self, message: Any, record: Record) -> list[Produced]:
        function = self.trigger.function
        try:
            with HANDLER_SECONDS.labels(function).time():
                outgoing = self._call_retrying_storage(message)
            self.trigger.check_outputs(outgoing)
            result = [produced(item, self.settings, function, record.headers) for item in outgoing]
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


class BatchInvoker:
    """Calls one function on every record of a batch at once: the base of the local
    runtime's batch loop and of Lambda's Kafka adapter."""

    def __init__(self, trigger: Trigger[Any], settings: FunctionSettings, context: FunctionContext):
        self.trigger = trigger
        self.settings = settings
        self.context = context
        self.invoke: Callable[[Record], list[Produced]] = Invoker(trigger, settings, context)
        self.pool = ThreadPoolExecutor(settings.max_in_flight, thread_name_prefix="record")

    def invoke_batch(self, records: Sequence[Record]) -> list[Produced]:
        """Every record at once, on the pool; the outputs in record order.

        The stores the trigger uses ``per_batch`` hold their writes (engine-start's jobs:
        an answer must find its job) until all records are done, and make them before any
        output leaves. A StorageUnavailable that outlasts ``STORAGE_RETRY_S`` is raised:
        nothing of the batch may count as done.
        """
        function, retry_s = self.trigger.function, self.settings.storage_retry_s
        with (
            tracing.receiving(self.settings.topic(self.trigger.source), records),
            ExitStack() as scopes,
        ):
            held = [
                scopes.enter_context(store.batch())
                for store in self.trigger.per_batch(self.context)
            ]
            outputs = list(self.pool.map(self.invoke, records))
            for write_held in held:
                retrying_storage(function, write_held, retry_s, time.sleep)
        return [item for produced in outputs for item in produced]


def retrying_storage(
    function: str, call: Callable[[], T], retry_s: float, sleep: Callable[[float], None]
) -> T:
    """``call()``, retried with backoff while S3 is unavailable, for up to ``retry_s``."""
    deadline = time.monotonic() + retry_s
    delay = STORAGE_RETRY_FIRST_S
    while True:
        try:
            return call()
        except StorageUnavailable as exc:
            if time.monotonic() + delay > deadline:
                log.error("%s: storage still unavailable, stopping: %s", function, exc)
                raise
            log.warning("%s: %s; retrying in %.1fs", function, exc, delay)
            sleep(delay)
            delay = min(delay * 2, STORAGE_RETRY_MOST_S)
