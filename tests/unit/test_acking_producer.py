"""The one producer: a record counts as sent once Kafka acknowledged it, and a failure
fails the batch that sent it, never a later one."""

from __future__ import annotations

from typing import Any

import pytest

from functions.errors import PublishFailed
from runtime.kafka.acking_producer import AckingProducer
from runtime.kafka.records import Produced


class Message:
    def __init__(self, topic: str) -> None:
        self._topic = topic

    def topic(self) -> str:
        return self._topic


class Producer:
    """Holds each record's delivery report until ``flush``, as librdkafka serves them."""

    def __init__(self, fail: bool = False, full_for: int = 0) -> None:
        self.fail = fail
        self.full_for = full_for  # produce calls refused with a full queue first
        self.pending: list[tuple[Any, str, bool]] = []
        self.sent: list[bytes | None] = []

    def produce(
        self, topic: str, value: bytes | None = None, key: Any = None, **options: Any
    ) -> None:
        if self.full_for:
            self.full_for -= 1
            raise BufferError("queue full")
        self.sent.append(value)
        self.pending.append((options["on_delivery"], topic, self.fail))

    def poll(self, timeout: float) -> int:
        return 0

    def flush(self, timeout: float) -> int:
        for report, topic, failed in self.pending:
            report("purged" if failed else None, Message(topic))
        self.pending.clear()
        return 0


def records(n: int) -> list[Produced]:
    return [Produced("questions-topic", str(i).encode()) for i in range(n)]


def test_records_not_acknowledged_fail_the_wait_naming_what_happens_next() -> None:
    output = AckingProducer(Producer(fail=True), timeout_s=1)
    output.send(records(2))
    with pytest.raises(PublishFailed, match=r"2 record.*; nothing is committed"):
        output.wait_for_acks("nothing is committed")


def test_the_failures_of_a_discarded_transaction_fail_no_later_batch() -> None:
    producer = Producer(fail=True)
    output = AckingProducer(producer, timeout_s=1)
    output.send(records(3))
    output.discard()  # aborted; librdkafka reports the purged records later
    producer.fail = False
    output.send(records(1))
    output.wait_for_acks("retried")  # the purged three are no one's failure


def test_a_full_send_queue_is_waited_for_in_order() -> None:
    producer = Producer(full_for=2)
    output = AckingProducer(producer, timeout_s=1)
    output.send(records(3))
    output.wait_for_acks("retried")
    assert producer.sent == [b"0", b"1", b"2"]
