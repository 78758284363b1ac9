"""Publishing from outside a stream (HTTP functions, timers): all of a batch, or none of it.

Each ``publish`` is one Kafka transaction. Readers see a batch's messages only once the
broker has committed all of them; if anything fails, the transaction is aborted (or, if
the broker cannot even be told, times out) and no reader ever sees a part of it. A step
that must succeed before anyone reads them (the coordinator's record of its run) can run
while they are on their way: the transaction commits only if it returns.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Sequence

from confluent_kafka import KafkaError, KafkaException, Producer

from functions.errors import PublishFailed
from functions.wire.messages import Outgoing
from runtime.config import FunctionSettings
from runtime.kafka.acking_producer import AckingProducer
from runtime.kafka.records import produced

log = logging.getLogger(__name__)


class KafkaPublisher:
    def __init__(self, settings: FunctionSettings, role: str = "publisher") -> None:
        self._settings = settings
        self._role = role
        self._lock = threading.Lock()
        self._producer: Producer | None = None
        self._output: AckingProducer | None = None

    def _config(self) -> dict[str, object]:
        timeout_ms = int(self._settings.publish_timeout_s * 1000)
        return {
            **self._settings.kafka_connection(),
            # Unique per process: two coordinators must never fence each other.
            "transactional.id": (
                f"{self._settings.consumer_group_prefix}{self._role}-{uuid.uuid4().hex}"
            ),
            # A crashed publisher's open transaction holds readers back until it expires.
            "transaction.timeout.ms": max(2 * timeout_ms, 10_000),
            "message.timeout.ms": timeout_ms,
            "request.timeout.ms": min(timeout_ms, 30_000),
            # The Java client's partitioner, so a key lands where the lab's services put it.
            "partitioner": "murmur2_random",
            "linger.ms": 5,
            "log_level": 3,
        }

    def _ready(self) -> tuple[Producer, AckingProducer]:
        if self._producer is None or self._output is None:
            producer = Producer(self._config())
            producer.init_transactions(self._settings.publish_timeout_s)
            self._producer = producer
            self._output = AckingProducer(producer, self._settings.publish_timeout_s)
        return self._producer, self._output

    def publish(
        self, messages: Sequence[Outgoing], before_commit: Callable[[], None] = lambda: None
    ) -> None:
        if not messages:
            before_commit()
            return
        with self._lock:
            try:
                self._publish_in_transaction(messages, before_commit)
            except (KafkaException, BufferError, PublishFailed) as exc:
                self._recover(exc)
                raise PublishFailed(
                    f"Kafka at {self._settings.kafka_bootstrap_servers} did not take the"
                    f" {len(messages)} message(s), so none was published: {_describe(exc)}."
                    " Check that the broker is up and the topics exist"
                    " (`python -m infra.provision`), then retry the request."
                ) from exc
            except Exception as exc:  # before_commit failed: none may be read
                self._recover(exc)
                raise

    def _publish_in_transaction(
        self, messages: Sequence[Outgoing], before_commit: Callable[[], None]
    ) -> None:
        producer, output = self._ready()
        producer.begin_transaction()
        output.send([produced(outgoing, self._settings, self._role) for outgoing in messages])
        before_commit()
        output.wait_for_acks("the transaction is aborted")
        producer.commit_transaction(self._settings.publish_timeout_s)

    def _recover(self, exc: Exception) -> None:
        """Abort what can be aborted; a producer in doubt is dropped and built anew."""
        producer = self._producer
        error = exc.args[0] if isinstance(exc, KafkaException) and exc.args else None
        if producer is None:
            return
        try:
            producer.abort_transaction(self._settings.publish_timeout_s)
            if self._output is not None:
                self._output.discard()
            if isinstance(error, KafkaError) and error.fatal():
                self._producer = self._output = None
        except KafkaException as abort_failure:
            # Unreachable broker: the transaction expires there, unseen by any reader.
            log.warning("could not abort the transaction (%s); starting afresh", abort_failure)
            self._producer = self._output = None

    def close(self) -> None:
        with self._lock:
            # Every transaction committed was acknowledged: nothing waits to be sent.
            self._producer = self._output = None


def _describe(exc: Exception) -> str:
    if isinstance(exc, KafkaException) and exc.args and isinstance(exc.args[0], KafkaError):
        return str(exc.args[0].str())
    if isinstance(exc, BufferError):
        return "the local send queue stayed full"
    return str(exc)
