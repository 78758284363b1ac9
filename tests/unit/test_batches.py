"""The batch loop's rules, with Kafka's clients replaced by recorders: records are in
flight together, and an offset is committed only once every record before it is done."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

import pytest

import runtime.batches
from functions.context import FunctionContext
from functions.errors import StorageUnavailable
from runtime.batches import BatchWorker
from runtime.config import Settings
from runtime.triggers import BY_FUNCTION
from runtime.worker import Produced, Record


class Message:
    def __init__(self, partition: int, offset: int) -> None:
        self._partition, self._offset = partition, offset

    def value(self) -> bytes:
        return b"{}"

    def topic(self) -> str:
        return "workflow-queue"

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def key(self) -> None:
        return None

    def headers(self) -> None:
        return None

    def error(self) -> None:
        return None


class Kafka:
    """Stands in for quix-streams' consumer and producer, and writes down what they did."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    def get_consumer(self, auto_commit_enable: bool) -> Kafka:
        return self

    def get_producer(self, transactional: bool) -> Kafka:
        return self

    def produce(self, topic: str, value: bytes, key: Any, **_: Any) -> None:
        self.events.append(("produce", topic, value))

    def flush(self, timeout: float) -> int:
        self.events.append(("flush",))
        return 0

    def commit(self, offsets: list[Any], asynchronous: bool) -> None:
        self.events.append(("commit", sorted((o.partition, o.offset) for o in offsets)))


@pytest.fixture
def kafka(monkeypatch: pytest.MonkeyPatch) -> Kafka:
    recorder = Kafka()
    monkeypatch.setattr(runtime.batches, "build_application", lambda *_: recorder)
    return recorder


def worker(context: FunctionContext, in_flight: int) -> BatchWorker:
    settings = replace(Settings(s3_endpoint_url=None), max_in_flight=in_flight)
    return BatchWorker(BY_FUNCTION["engine-start"], settings, context)


def test_the_records_of_a_batch_are_in_flight_together(
    kafka: Kafka, context: FunctionContext
) -> None:
    together = threading.Barrier(8, timeout=10)

    def invoke(record: Record) -> list[Produced]:
        together.wait()  # breaks, failing the test, unless eight wait at once
        return [Produced("questions-topic", str(record.offset).encode())]

    batch_worker = worker(context, in_flight=8)
    batch_worker.invoke = invoke
    batch_worker._process([Message(n % 2, n) for n in range(8)])
    batch_worker._commit()
    produced = [event[2] for event in kafka.events if event[0] == "produce"]
    assert produced == [str(n).encode() for n in range(8)], "outputs keep the records' order"
    assert kafka.events[-2:] == [("flush",), ("commit", [(0, 7), (1, 8)])]


def test_nothing_is_committed_when_a_record_of_the_batch_cannot_reach_s3(
    kafka: Kafka, context: FunctionContext
) -> None:
    def invoke(record: Record) -> list[Produced]:
        if record.offset == 3:
            raise StorageUnavailable("S3 is down")
        return [Produced("questions-topic", b"q")]

    batch_worker = worker(context, in_flight=4)
    batch_worker.invoke = invoke
    with pytest.raises(StorageUnavailable):
        batch_worker._process([Message(0, n) for n in range(6)])
    batch_worker._commit()
    assert kafka.events == [], "a batch with a record not done produced or committed something"
