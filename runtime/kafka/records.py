"""A record as the runtime hands it to a function, and a record on its way out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from functions.wire.messages import Outgoing, encode
from runtime import cloudevents, tracing
from runtime.config import FunctionSettings


@dataclass(frozen=True)
class Record:
    """A consumed record, and where it came from."""

    value: bytes | None
    topic: str
    partition: int = 0
    offset: int = 0
    key: bytes | None = None
    headers: Sequence[tuple[str, bytes]] = ()

    @property
    def origin(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"


@dataclass(frozen=True)
class Produced:
    """A record on its way out: the topic, its key, the encoded value, its headers."""

    topic: str
    value: bytes
    key: bytes | None = None
    headers: cloudevents.Headers = field(default_factory=list)


def produced(
    outgoing: Outgoing,
    settings: FunctionSettings,
    source: str,
    consumed: Sequence[tuple[str, bytes]] | None = None,
) -> Produced:
    """``outgoing`` as a record of its stream's topic, keyed by its partition key, sent by
    ``source`` (a function, or the coordinator), in the trace of the record ``consumed``
    carried (its headers), or else of ``outgoing.trace``, or else a trace of its own."""
    message = outgoing.message
    topic = settings.topic(outgoing.stream)
    key = message.partition_key.encode()
    headers = cloudevents.for_message(message, source)
    if tracing.enabled():
        headers += tracing.sending(topic, key, consumed, outgoing.trace)
    return Produced(topic, encode(message), key, headers)
