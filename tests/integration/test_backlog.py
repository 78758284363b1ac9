"""The backlog the timer of unanswered questions looks at, on a real broker: a watched group
that lags behind its topic and moves holds the timer off; one that lags without moving, or
has nothing left, does not. The look reads the groups' committed offsets without joining
them."""

from __future__ import annotations

from confluent_kafka import Consumer, TopicPartition

from runtime.config import StackSettings
from runtime.kafka.backlog import Backlog
from tests.helpers.kafka import coordinator_answers, group_members, produce, went_through
from tests.helpers.waiting import wait_for


def _commit(settings: StackSettings, group: str, offsets: dict[TopicPartition, int]) -> None:
    """What a group's member commits, as the group (which has no member meanwhile)."""
    committer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap_servers,
            "group.id": group,
            "enable.auto.commit": False,
        }
    )
    at = [TopicPartition(tp.topic, tp.partition, offset) for tp, offset in offsets.items()]
    try:
        wait_for(
            f"{group}'s coordinator to take the commit",
            lambda: went_through(lambda: committer.commit(offsets=at, asynchronous=False)),
        )
    finally:
        committer.close()


def _ends(settings: StackSettings, topic: str) -> dict[TopicPartition, int]:
    """Each partition of ``topic`` that holds records, and its high watermark."""
    probe = Consumer({"bootstrap.servers": settings.kafka_bootstrap_servers, "group.id": "ends"})
    try:
        partitions = probe.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {}
        for number in partitions:
            partition = TopicPartition(topic, number)
            high = probe.get_watermark_offsets(partition, timeout=10)[1]
            if high > 0:
                ends[partition] = high
        return ends
    finally:
        probe.close()


def test_a_group_that_lags_and_moves_holds_off_and_one_that_stands_or_is_done_does_not(
    settings: StackSettings,
) -> None:
    topic = settings.answers_topic
    produce(settings, topic, [f"answer-{n}".encode() for n in range(20)])
    ends = _ends(settings, topic)
    group = f"{settings.consumer_group_prefix}answering"
    standing = f"{settings.consumer_group_prefix}never-committed"
    _commit(settings, group, dict.fromkeys(ends, 0))
    wait_for(f"{standing}'s coordinator", lambda: coordinator_answers(settings, standing))
    backlog = Backlog(settings, [(group, topic), (standing, topic)])
    try:
        assert not backlog.moving()  # behind, but not seen to move yet
        partition, _ = next(iter(ends.items()))
        _commit(settings, group, {partition: 1})
        assert backlog.moving()  # behind, and moved since the last look
        assert not backlog.moving()  # behind, and standing since
        _commit(settings, group, ends)
        assert not backlog.moving()  # moved, but nothing left to work through
        assert group_members(settings, group) == []  # looked at, never joined
    finally:
        backlog.close()
