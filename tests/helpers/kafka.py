"""Kafka as a test sees it: producing records, reading topics, consumer groups."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from typing import Any

from confluent_kafka import Consumer, Producer
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


def group_members(settings: StackSettings, group: str) -> list[Any]:
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap_servers})
    future = admin.describe_consumer_groups([group], request_timeout=10)[group]
    return list(future.result().members)


def topic_records(settings: StackSettings, topic: str, quiet_s: float = 3.0) -> list[Any]:
    """Every committed record a topic holds, read until it stays quiet for ``quiet_s``."""
    reader = TopicReader(settings, topic)
    try:
        reader.quiet_for(quiet_s)
        while reader.quiet_for(quiet_s):
            pass
        return reader.records
    finally:
        reader.close()
