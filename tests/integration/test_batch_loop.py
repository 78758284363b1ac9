"""The batch loop's rules, with Kafka's clients replaced by recorders: records are in
flight together, and an offset is committed only once every record before it is done.
No broker, but the loop is built on Kafka's client library: not a unit test."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

import pytest

import runtime.kafka.batch_loop
from functions.context import FunctionContext
from functions.errors import StorageUnavailable
from runtime.config import StackSettings
from runtime.kafka.batch_loop import BatchLoop
from runtime.kafka.records import Produced, Record
from runtime.services import Services
from runtime.triggers import BY_FUNCTION


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

    def poll(self, timeout: float) -> int:
        return 0

    def flush(self, timeout: float) -> int:
        self.events.append(("flush",))
        return 0

    def commit(self, offsets: list[Any], asynchronous: bool) -> None:
        self.events.append(("commit", sorted((o.partition, o.offset) for o in offsets)))


@pytest.fixture
def context(settings: StackSettings) -> FunctionContext:
    return Services(settings).context


@pytest.fixture
def kafka(monkeypatch: pytest.MonkeyPatch) -> Kafka:
    recorder = Kafka()
    monkeypatch.setattr(runtime.kafka.batch_loop, "build_application", lambda *_: recorder)
    return recorder


def worker(settings: StackSettings, context: FunctionContext, in_flight: int) -> BatchLoop:
    return BatchLoop(
        BY_FUNCTION["engine-start"], replace(settings, max_in_flight=in_flight), context
    )


def test_the_records_of_a_batch_are_in_flight_together(
    kafka: Kafka, settings: StackSettings, context: FunctionContext
) -> None:
    together = threading.Barrier(8, timeout=10)

    def invoke(record: Record) -> list[Produced]:
        together.wait()  # breaks, failing the test, unless eight wait at once
        return [Produced("questions-topic", str(record.offset).encode())]

    batch_worker = worker(settings, context, in_flight=8)
    batch_worker.invoke = invoke
    batch_worker._process([Message(n % 2, n) for n in range(8)])
    batch_worker._commit()
    produced = [event[2] for event in kafka.events if event[0] == "produce"]
    assert produced == [str(n).encode() for n in range(8)], "outputs keep the records' order"
    assert kafka.events[-2:] == [("flush",), ("commit", [(0, 7), (1, 8)])]


def test_nothing_is_committed_when_a_record_of_the_batch_cannot_reach_s3(
    kafka: Kafka, settings: StackSettings, context: FunctionContext
) -> None:
    def invoke(record: Record) -> list[Produced]:
        if record.offset == 3:
            raise StorageUnavailable("S3 is down")
        return [Produced("questions-topic", b"q")]

    batch_worker = worker(settings, context, in_flight=4)
    batch_worker.invoke = invoke
    with pytest.raises(StorageUnavailable):
        batch_worker._process([Message(0, n) for n in range(6)])
    batch_worker._commit()
    assert kafka.events == [], "a batch with a record not done produced or committed something"
