"""Sending records and knowing Kafka has them: the one place this project produces.

The batch loop, Lambda's Kafka adapter and the publisher all send through an
``AckingProducer``: a record counts as sent only once the broker acknowledged it, and a
record it did not acknowledge fails whoever sent it, so nothing is committed past it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from functions.errors import PublishFailed
from runtime.kafka.records import Produced

if TYPE_CHECKING:
    from confluent_kafka import KafkaError, Message


class KafkaProducer(Protocol):
    """What confluent-kafka's producer and quix-streams' both offer."""

    def produce(
        self,
        topic: str,
        value: bytes | None = ...,
        key: bytes | None = ...,
        *,
        headers: Any = ...,
        on_delivery: Any = ...,
    ) -> Any: ...

    def poll(self, timeout: float) -> int: ...

    def flush(self, timeout: float) -> int: ...


class AckingProducer:
    def __init__(self, producer: KafkaProducer, timeout_s: float) -> None:
        self.producer = producer
        self.timeout_s = timeout_s
        self._errors: list[str] = []
        self._generation = 0  # records sent before a ``discard`` fail no one

    def send(self, items: Sequence[Produced]) -> None:
        """Hand the records to the producer, in order; they are acknowledged later (by
        ``wait_for_acks``, or by committing the producer's transaction). A send queue
        that stays full for ``timeout_s`` raises ``BufferError``."""
        deadline = time.monotonic() + self.timeout_s
        generation = self._generation

        def delivered(error: KafkaError | None, message: Message) -> None:
            if error is not None and generation == self._generation:
                self._errors.append(f"{message.topic()}: {error}")

        for item in items:
            while True:
                try:
                    self.producer.produce(
                        item.topic,
                        item.value,
                        item.key,
                        headers=list(item.headers),
                        on_delivery=delivered,
                    )
                    break
                except BufferError:
                    if time.monotonic() > deadline:
                        raise
                    self.producer.poll(0.05)  # the local queue is full; let it drain

    def wait_for_acks(self, then: str) -> None:
        """Wait until Kafka acknowledged every record sent; ``PublishFailed`` naming what
        happens ``then`` (the batch is retried, nothing is committed) if it did not."""
        remaining = self.producer.flush(self.timeout_s)
        errors, self._errors = self._errors, []
        if remaining or errors:
            detail = f" ({'; '.join(errors[:3])})" if errors else ""
            raise PublishFailed(
                f"Kafka did not acknowledge {remaining + len(errors)} record(s){detail}; {then}"
            )

    def discard(self) -> None:
        """Forget what was sent so far: its transaction was aborted, so the failures its
        records report (purged, say) are no later batch's."""
        self._generation += 1
        self._errors = []
