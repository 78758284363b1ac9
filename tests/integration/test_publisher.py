"""The HTTP functions' and timers' publisher: all of a batch, or nothing a reader can see."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from functions.errors import StorageUnavailable
from functions.wire.messages import Outgoing, Stream, WorkflowMessage
from runtime.config import StackSettings
from runtime.kafka.publisher import KafkaPublisher
from tests.helpers.kafka import TopicReader
from tests.helpers.lab import workflow


def outgoing(workflow_id: str) -> Outgoing:
    return Outgoing(Stream.WORKFLOWS, WorkflowMessage.from_wire(workflow(workflow_id)))


def test_a_step_that_fails_before_the_commit_leaves_nothing_to_read(
    settings: StackSettings, reader: Callable[[StackSettings, str], TopicReader]
) -> None:
    publisher = KafkaPublisher(settings, role="coordinator")
    steps: list[str] = []

    def record_the_run() -> None:
        steps.append("saved")
        raise StorageUnavailable("S3 is down")

    doomed = [outgoing(f"doomed-{n}") for n in range(3)]
    with pytest.raises(StorageUnavailable):
        publisher.publish(doomed, record_the_run)
    assert steps == ["saved"]
    publisher.publish([outgoing("kept")], lambda: steps.append("ok"))
    publisher.close()

    topic = reader(settings, settings.workflow_topic)
    assert [value["workflow-id"] for value in topic.values(1)] == ["kept"]
    assert topic.quiet_for(3) == 0, "an aborted transaction's workflow was read"
    assert steps == ["saved", "ok"]
