"""Whether the functions that answer a question are still working through a backlog.

A question waiting in line behind thousands of others is not lost, so the timer that
asks unanswered questions again holds off while the CRM's and engine-complete's
consumer groups lag behind their topics *and* move forward. A group that lags without
moving (stopped, or never started) does not hold anything off: its questions are late.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from confluent_kafka import Consumer, KafkaException, TopicPartition

from runtime.config import FunctionSettings

log = logging.getLogger(__name__)

Positions = dict[tuple[str, int], int]


class Backlog:
    """Watches ``watched``: (consumer group, topic) pairs, the groups named in full."""

    def __init__(self, settings: FunctionSettings, watched: Sequence[tuple[str, str]]) -> None:
        self._settings = settings
        self._config = {**settings.kafka_connection(), "log_level": 3}
        # Only to read watermarks; it never subscribes nor commits.
        self._consumer = self._reader("billing-backlog-probe")
        # A reader of each watched group's committed offsets: a consumer of the group's id
        # that never subscribes (so never joins the group) nor commits. Not the admin API's
        # list_consumer_group_offsets, whose answer, when the group's coordinator cannot
        # give one (a broker starting or lost), crashes confluent-kafka 2.12.2 with a
        # segmentation fault (as confluent-kafka-python#1982 reports; quix-streams 3.28
        # takes nothing newer).
        self._watched = list(watched)
        self._groups = {group: self._reader(group) for group, _ in self._watched}
        self._last: Positions = {}

    def _reader(self, group: str) -> Consumer:
        return Consumer({**self._config, "group.id": group, "enable.auto.commit": False})

    def moving(self) -> bool:
        """True if a watched group lags behind its topic and moved since the last call."""
        try:
            return self._moving()
        except KafkaException as exc:
            log.warning("could not tell whether answers are in line (%s); assuming not", exc)
            return False

    def _moving(self) -> bool:
        moving = False
        for group, topic in self._watched:
            committed = self._committed(group, topic)
            lag = 0
            advanced = False
            for partition, position in committed.items():
                low, high = self._consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=5
                )
                lag += high - max(position, low)
                advanced |= self._last.get((group, partition), position) != position
                self._last[(group, partition)] = position
            moving |= lag > 0 and advanced
        return moving

    def _committed(self, group: str, topic: str) -> dict[int, int]:
        partitions = self._consumer.list_topics(topic, timeout=5).topics[topic].partitions
        request = [TopicPartition(topic, p) for p in partitions]
        committed = self._groups[group].committed(request, timeout=5)
        # A partition the group never committed (-1001) counts from the topic's start.
        return {tp.partition: max(tp.offset, -1) for tp in committed}

    def close(self) -> None:
        for reader in (self._consumer, *self._groups.values()):
            reader.close()
