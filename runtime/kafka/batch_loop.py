"""Runs one Kafka-triggered function with many records in flight, on quix-streams' clients.

The loop is the one Lambda's Kafka event source mapping runs: take a batch of records
from quix-streams' consumer, hand every record of it to the function at once (up to
``MAX_IN_FLIGHT`` concurrently), produce what they return with quix-streams' producer,
and commit. So a function's throughput is its concurrency over the latency of its S3
requests, not one over that latency.

What does not change: an offset is committed only after the whole batch it ends is
done, every record of it having finished its S3 writes and had its outputs acknowledged
by Kafka; a partition's offset therefore never passes a record that is not done. At
most every ``COMMIT_INTERVAL_S`` (and always before partitions move to another worker
and on SIGTERM), the producer is flushed and the offsets are committed, or, under
exactly-once, the transaction holding the outputs and the offsets is committed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from confluent_kafka import KafkaError, Message, TopicPartition

from functions.context import FunctionContext
from functions.errors import BillingError
from runtime.config import FunctionSettings
from runtime.kafka.acking_producer import AckingProducer
from runtime.kafka.clients import build_application
from runtime.kafka.invoker import BatchInvoker
from runtime.kafka.records import Record
from runtime.triggers import Trigger

log = logging.getLogger(__name__)


class BatchLoop(BatchInvoker):
    """One Kafka-triggered function: consume, invoke concurrently, produce, commit."""

    def __init__(self, trigger: Trigger[Any], settings: FunctionSettings, context: FunctionContext):
        super().__init__(trigger, settings, context)
        self.source = settings.topic(trigger.source)
        self.exactly_once = settings.processing_guarantee == "exactly-once"
        app = build_application(trigger, settings)
        self.consumer = app.get_consumer(auto_commit_enable=False)
        self.producer = app.get_producer(transactional=self.exactly_once)
        self.output = AckingProducer(self.producer, settings.publish_timeout_s)
        self._uncommitted: dict[tuple[str, int], int] = {}
        self._in_transaction = False
        self._last_commit = time.monotonic()

    def run(self, stop: threading.Event) -> None:
        """Until ``stop`` is set (``runtime.stopping.stop_event``)."""
        self.consumer.subscribe([self.source], on_revoke=self._on_revoke, on_lost=self._on_lost)
        try:
            while not stop.is_set():
                batch = self._next_batch()
                if batch:
                    self._process(batch)
                if time.monotonic() - self._last_commit >= self.settings.commit_interval_s:
                    self._commit()
            self._commit()  # what is done is committed; what is not is redone elsewhere
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.consumer.close()  # type: ignore[no-untyped-call]

    def _next_batch(self) -> list[Message]:
        """What has arrived: wait a little for the first record, then take what is there
        without waiting, so that one record alone is not held back for company."""
        first = self.consumer.poll(0.2)
        if first is None:
            return []
        rest = self.consumer.consume(self.settings.max_in_flight * 4 - 1, timeout=0)
        messages = [first, *rest]
        for message in messages:
            error = message.error()
            if error is not None and error.code() != KafkaError._PARTITION_EOF:
                raise BillingError(f"consuming {self.source} failed: {error}")
        return [message for message in messages if message.error() is None]

    def _process(self, batch: Sequence[Message]) -> None:
        records = [
            Record(
                m.value(),
                m.topic() or "",
                m.partition() or 0,
                m.offset() or 0,
                m.key(),
                m.headers() or (),
            )
            for m in batch
        ]
        # A StorageUnavailable stops the worker before any commit.
        outputs = self.invoke_batch(records)
        if self.exactly_once and not self._in_transaction:
            self.producer.begin_transaction()
            self._in_transaction = True
        self.output.send(outputs)
        for record in records:
            self._uncommitted[(record.topic, record.partition)] = record.offset + 1

    def _commit(self) -> None:
        self._last_commit = time.monotonic()
        if not self._uncommitted:
            return
        offsets = [TopicPartition(t, p, offset) for (t, p), offset in self._uncommitted.items()]
        if self.exactly_once:
            self.producer.send_offsets_to_transaction(
                offsets, self.consumer.consumer_group_metadata(), self.settings.publish_timeout_s
            )
            self.producer.commit_transaction(self.settings.publish_timeout_s)
            self._in_transaction = False
        else:
            self.output.wait_for_acks(f"{self.trigger.function} stops without committing")
            self.consumer.commit(offsets=offsets, asynchronous=False)
        self._uncommitted.clear()

    def _on_revoke(self, _consumer: Any, partitions: list[TopicPartition]) -> None:
        # Called between batches (inside poll): everything taken so far is done.
        log.info("%s: %d partition(s) revoked; committing", self.trigger.function, len(partitions))
        self._commit()

    def _on_lost(self, _consumer: Any, partitions: list[TopicPartition]) -> None:
        # Another worker owns them already; their records will be done again there.
        lost = {(p.topic, p.partition) for p in partitions}
        log.warning("%s: %d partition(s) lost", self.trigger.function, len(lost))
        if self._in_transaction:
            # The open transaction holds outputs of records now someone else's; only a
            # fresh start from the committed offsets keeps the rest exactly once.
            raise BillingError(
                f"{self.trigger.function}: partitions lost inside a transaction; restarting"
                " from the committed offsets"
            )
        for key in lost:
            self._uncommitted.pop(key, None)
