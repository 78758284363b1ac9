"""Runs one Kafka-triggered function on quix-streams.

Per record: decode and type the message, call the function, produce what it returns.
quix-streams commits a record's offset only at a checkpoint, after the producer has
flushed, and the function's S3 writes are done before it returns, so an offset is
never committed before the work it stands for is durable.

A record that cannot be processed (malformed, or one that makes the function fail)
goes to the dead-letter topic with headers saying why, and the stream keeps going.
S3 being unreachable is not the record's fault: it is retried, then the worker stops
without committing, so the record is processed again on restart.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from quixstreams import Application, message_context
from quixstreams.models.serializers import Serializer

from functions.context import FunctionContext
from functions.errors import BillingError, MalformedMessage, StorageUnavailable
from functions.messages import Outgoing, decode_object, encode
from runtime.config import Settings
from runtime.triggers import Trigger

log = logging.getLogger(__name__)

Headers = list[tuple[str, bytes]]


@dataclass(frozen=True)
class Produced:
    """A record on its way out: the topic, the encoded value, its headers."""

    topic: str
    value: bytes
    headers: Headers = field(default_factory=list)


class _ProducedValue(Serializer):
    def __call__(self, value: Produced, ctx: Any) -> bytes:
        return value.value


class Invoker:
    """Calls one function for one raw record and says what to produce."""

    def __init__(
        self,
        trigger: Trigger[Any],
        settings: Settings,
        context: FunctionContext,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.trigger = trigger
        self.settings = settings
        self.context = context
        self._sleep = sleep
        self._allowed = {settings.topic(stream) for stream in trigger.outputs}

    def __call__(
        self, raw: bytes | None, origin: str, headers: Sequence[Any] = ()
    ) -> list[Produced]:
        try:
            message = self.trigger.message.from_wire(decode_object(raw))
            outgoing = self._call_retrying_storage(message)
            return [self._produced(item) for item in outgoing]
        except MalformedMessage as exc:
            log.warning(
                "%s: dead-lettering malformed record %s: %s", self.trigger.function, origin, exc
            )
            return [self._dead_letter(raw, origin, headers, exc)]
        except StorageUnavailable:
            raise
        except Exception as exc:
            # A record that breaks the function is parked, not allowed to stop the stream.
            log.exception("%s: dead-lettering record %s that failed", self.trigger.function, origin)
            return [self._dead_letter(raw, origin, headers, exc)]

    def _call_retrying_storage(self, message: Any) -> list[Outgoing]:
        deadline = time.monotonic() + self.settings.storage_retry_s
        delay = 0.5
        while True:
            try:
                return self.trigger.handler(message, self.context)
            except StorageUnavailable as exc:
                if time.monotonic() + delay > deadline:
                    log.error(
                        "%s: storage still unavailable, stopping: %s", self.trigger.function, exc
                    )
                    raise
                log.warning("%s: %s; retrying in %.1fs", self.trigger.function, exc, delay)
                self._sleep(delay)
                delay = min(delay * 2, 10.0)

    def _produced(self, outgoing: Outgoing) -> Produced:
        topic = self.settings.topic(outgoing.stream)
        if topic not in self._allowed:
            raise BillingError(
                f"{self.trigger.function} returned a message for {topic!r}, which is not among"
                f" its declared outputs {sorted(self._allowed)}; fix runtime/triggers.py"
            )
        return Produced(topic, encode(outgoing.message))

    def _dead_letter(
        self, raw: bytes | None, origin: str, headers: Sequence[Any], exc: Exception
    ) -> Produced:
        reason = f"{type(exc).__name__}: {exc}"
        dead_letter_headers: Headers = [
            *((name, value) for name, value in headers or ()),
            ("dead-letter-function", self.trigger.function.encode()),
            ("dead-letter-origin", origin.encode()),
            ("dead-letter-reason", reason.encode()[:2000]),
        ]
        return Produced(self.settings.dead_letter_topic, raw or b"", dead_letter_headers)


def build_application(
    trigger: Trigger[Any], settings: Settings, context: FunctionContext
) -> Application:
    app = Application(
        broker_address=settings.kafka_bootstrap_servers,
        consumer_group=settings.consumer_group_prefix + trigger.consumer_group,
        # A new group starts from the oldest record: work queued while no worker ran is done.
        auto_offset_reset="earliest",
        auto_create_topics=False,
        use_changelog_topics=False,
        commit_interval=settings.commit_interval_s,
        loglevel=None,
        # Stateless functions keep nothing here, but quix-streams wants a folder.
        state_dir=settings.quix_state_dir,
    )
    source = app.topic(
        settings.topic(trigger.source), key_deserializer="bytes", value_deserializer="bytes"
    )
    targets = {
        name: app.topic(name, key_serializer="bytes", value_serializer=_ProducedValue())
        for name in [settings.topic(s) for s in trigger.outputs] + [settings.dead_letter_topic]
    }
    invoke = Invoker(trigger, settings, context)

    def process(value: bytes | None, _key: Any, _timestamp: int, headers: Any) -> list[Produced]:
        where = message_context()
        return invoke(value, f"{where.topic}[{where.partition}]@{where.offset}", headers or ())

    dataframe = app.dataframe(source)
    dataframe = dataframe.apply(process, expand=True, metadata=True)
    dataframe = dataframe.set_headers(lambda produced, *_: produced.headers)
    dataframe.to_topic(lambda produced, *_: targets[produced.topic])
    return app
