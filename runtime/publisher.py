"""Publishing from HTTP functions: produce, then wait until Kafka acknowledges every message."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from quixstreams.kafka import Producer

from functions.errors import PublishFailed
from functions.messages import Outgoing, encode
from runtime.config import Settings

log = logging.getLogger(__name__)


class _Acknowledgements:
    """Counts delivery reports for one request; reports arrive on whichever thread polls."""

    def __init__(self, expected: int) -> None:
        self._outstanding = expected
        self._lock = threading.Lock()
        self.done = threading.Event()
        self.errors: list[str] = []
        if expected == 0:
            self.done.set()

    def on_delivery(self, error: Any, _message: Any) -> None:
        with self._lock:
            if error is not None:
                self.errors.append(str(error))
            self._outstanding -= 1
            if self._outstanding == 0:
                self.done.set()


class KafkaPublisher:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        timeout_ms = int(settings.publish_timeout_s * 1000)
        self._producer = Producer(
            broker_address=settings.kafka_bootstrap_servers,
            extra_config={
                "enable.idempotence": True,
                "linger.ms": 5,
                # Fail a message within the request's patience instead of librdkafka's 5 min.
                "message.timeout.ms": timeout_ms,
                "request.timeout.ms": min(timeout_ms, 30_000),
            },
        )

    def publish(self, messages: Sequence[Outgoing]) -> None:
        acks = _Acknowledgements(len(messages))
        for outgoing in messages:
            self._producer.produce(
                topic=self._settings.topic(outgoing.stream),
                value=encode(outgoing.message),
                on_delivery=acks.on_delivery,
            )
        deadline = time.monotonic() + self._settings.publish_timeout_s + 1
        while not acks.done.is_set() and time.monotonic() < deadline:
            self._producer.poll(0.05)
        if acks.errors or not acks.done.is_set():
            failed = len(acks.errors) if acks.done.is_set() else "some"
            first = acks.errors[0] if acks.errors else "no acknowledgement in time"
            raise PublishFailed(
                f"Kafka at {self._settings.kafka_bootstrap_servers} did not acknowledge {failed}"
                f" of {len(messages)} message(s): {first}. Check that the broker is up and the"
                " topics exist (`python -m infra.provision`), then retry the request."
            )

    def close(self) -> None:
        self._producer.flush(self._settings.publish_timeout_s)
