"""What the runtime's Kafka adapters do for the functions, as the rest of the runtime
sees them: a test gives a recorder or a fixed answer instead."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from functions.errors import BillingError
from functions.wire.messages import Outgoing, Stream


class Publisher(Protocol):
    """What the coordinator publishes runs with: ``KafkaPublisher``, or a test's recorder."""

    def publish(
        self, messages: Sequence[Outgoing], before_commit: Callable[[], None] = ...
    ) -> None:
        """All of ``messages`` or none; none either if ``before_commit`` raises."""


class Backlog(Protocol):
    """Whether questions or answers are still in line: ``runtime.kafka.backlog.Backlog``, or
    a test's answer."""

    def moving(self) -> bool: ...

    def close(self) -> None: ...


def check_outputs(function: str, outputs: tuple[Stream, ...], outgoing: list[Outgoing]) -> None:
    """Refuse a message for a stream the wiring tables do not give ``function``."""
    stray = [o.stream.value for o in outgoing if o.stream not in outputs]
    if stray:
        declared = [stream.value for stream in outputs]
        raise BillingError(
            f"{function} returned a message for {stray[0]}, which is not among its declared"
            f" outputs {declared}; fix runtime/triggers.py"
        )
