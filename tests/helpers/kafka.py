"""Kafka as a test sees it: producing records, reading topics, consumer groups."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from runtime.config import StackSettings


def produce(settings: StackSettings, topic: str, values: Sequence[bytes | dict[str, Any]]) -> None:
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap_servers})
    for value in values:
        raw = value if isinstance(value, bytes) else json.dumps(value).encode()
        producer.produce(topic, raw)
    assert producer.flush(15) == 0, "Kafka did not take the test messages"


class TopicReader:
    """Reads a topic from its start, accumulating what it has seen."""

    def __init__(self, settings: StackSettings, topic: str) -> None:
        self.records: list[Any] = []
        self._consumer = Consumer(
            {
                "bootstrap.servers": settings.kafka_bootstrap_servers,
                "group.id": f"reader-{uuid.uuid4().hex}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
        self._consumer.subscribe([topic])

    def read(self, count: int, timeout_s: float = 60) -> list[Any]:
        deadline = time.monotonic() + timeout_s
        while len(self.records) < count and time.monotonic() < deadline:
            message = self._consumer.poll(0.5)
            if message is not None and message.error() is None:
                self.records.append(message)
        assert len(self.records) >= count, f"{len(self.records)} of {count} records arrived"
        return self.records

    def values(self, count: int, timeout_s: float = 60) -> list[Any]:
        return [json.loads(record.value()) for record in self.read(count, timeout_s)]

    def quiet_for(self, seconds: float) -> int:
        """Keep reading for ``seconds``; return how many records arrived meanwhile."""
        before = len(self.records)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            message = self._consumer.poll(0.2)
            if message is not None and message.error() is None:
                self.records.append(message)
        return len(self.records) - before

    def close(self) -> None:
        self._consumer.close()


# What a group's coordinator answers while the broker loads the offsets (just started, or
# back after a restart).
NOT_YET = {
    KafkaError.NOT_COORDINATOR,
    KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
    KafkaError.COORDINATOR_NOT_AVAILABLE,
}


def went_through(action: Callable[[], object]) -> bool:
    """True once ``action`` (a call to a group's coordinator) went through; False while the
    coordinator is not ready yet; any other error raised."""
    try:
        action()
    except KafkaException as exc:
        if exc.args[0].code() in NOT_YET:
            return False
        raise
    return True


def coordinator_answers(settings: StackSettings, group: str) -> bool:
    """Whether ``group``'s coordinator answers a read of the group's offsets; False while
    the broker is not ready for groups yet. Never joins the group."""
    reader = Consumer({"bootstrap.servers": settings.kafka_bootstrap_servers, "group.id": group})
    try:
        return went_through(
            lambda: reader.committed([TopicPartition(settings.workflow_topic, 0)], timeout=10)
        )
    finally:
        reader.close()


def group_members(settings: StackSettings, group: str) -> list[Any]:
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap_servers})
    future = admin.describe_consumer_groups([group], request_timeout=10)[group]
    return list(future.result().members)


def topic_records(settings: StackSettings, topic: str, timeout_s: float = 60) -> list[Any]:
    """The records of ``topic`` committed when it is read (a transaction still open is left
    out), from each partition's start to its end: an end librdkafka reports as an event,
    never a quiet spell waited out. Records may come after: to know there are no more, wait
    for what makes them first (``unprocessed``), or stop their producers."""
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap_servers,
            "group.id": f"reader-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "isolation.level": "read_committed",
        }
    )
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        records: list[Any] = []
        at_end: set[int] = set()
        deadline = time.monotonic() + timeout_s
        while len(at_end) < len(partitions):
            assert time.monotonic() < deadline, f"{topic}: {len(at_end)} partition(s) read"
            message = consumer.poll(0.5)
            if message is None:
                continue
            error = message.error()
            if error is None:
                records.append(message)
                at_end.discard(message.partition())  # one that came after the end
            elif error.code() == KafkaError._PARTITION_EOF:
                at_end.add(message.partition())
            else:
                raise AssertionError(f"reading {topic}: {error}")
        return records
    finally:
        consumer.close()


def unprocessed(settings: StackSettings) -> int:
    """How many records of the Kafka-triggered functions' topics their consumer groups have
    not committed past: 0 once every function has done (and committed) all it was sent, so
    that nothing it does later can answer a record already there."""
    from runtime.triggers import TRIGGERS

    left = 0
    for trigger in TRIGGERS:
        topic = settings.topic(trigger.source)
        group = Consumer(
            {
                "bootstrap.servers": settings.kafka_bootstrap_servers,
                "group.id": settings.consumer_group_prefix + trigger.consumer_group,
                "enable.auto.commit": False,
            }
        )
        try:
            partitions = group.list_topics(topic, timeout=10).topics[topic].partitions
            asked = [TopicPartition(topic, partition) for partition in partitions]
            # Never committed (-1001): from the start. Counted by records, not offsets, as
            # a transaction's marker after the last record takes an offset no one commits.
            done = {tp.partition: max(tp.offset, 0) for tp in group.committed(asked, timeout=10)}
        finally:
            group.close()
        records = topic_records(settings, topic)
        left += sum(1 for r in records if r.offset() >= done.get(r.partition(), 0))
    return left
