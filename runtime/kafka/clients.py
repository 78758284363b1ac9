"""The Kafka clients of a process, configured from ``FunctionSettings``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runtime.config import FunctionSettings

if TYPE_CHECKING:
    from confluent_kafka import Producer
    from quixstreams import Application

    from runtime.triggers import Trigger


def worker_client_config(settings: FunctionSettings) -> tuple[dict[str, Any], dict[str, Any]]:
    """librdkafka settings for a worker's (consumer, producer)."""
    session_ms = int(settings.session_timeout_s * 1000)
    consumer = {
        "session.timeout.ms": session_ms,
        "heartbeat.interval.ms": max(500, session_ms // 4),
        # What librdkafka fetches ahead (64 MiB by default, and a fetch on top) is memory a
        # backlog would fill: a worker's memory would grow with the lines it serves. 1 MiB
        # queued and 256 KiB a partition a fetch are still thousands of our records.
        "queued.max.messages.kbytes": 1024,
        "max.partition.fetch.bytes": 256 * 1024,
    }
    # An open transaction of a crashed worker holds back readers until it times out;
    # it must outlast the S3 retries a healthy worker may spend inside one.
    producer = {
        "transaction.timeout.ms": int((settings.storage_retry_s + 15) * 1000),
        "linger.ms": 2,
    }
    return consumer, producer


def build_application(trigger: Trigger[Any], settings: FunctionSettings) -> Application:
    """quix-streams' application: the factory of a worker's consumer and producer."""
    from quixstreams import Application
    from quixstreams.kafka.configuration import ConnectionConfig

    consumer_config, producer_config = worker_client_config(settings)
    return Application(
        broker_address=ConnectionConfig.from_librdkafka_dict(settings.kafka_connection()),
        consumer_group=settings.consumer_group_prefix + trigger.consumer_group,
        # A new group starts from the oldest record: work queued while no worker ran is done.
        auto_offset_reset="earliest",
        auto_create_topics=False,
        use_changelog_topics=False,
        processing_guarantee=settings.processing_guarantee,  # type: ignore[arg-type]
        consumer_extra_config=consumer_config,
        producer_extra_config=producer_config,
        loglevel=None,
        # Stateless functions keep nothing here, but quix-streams wants a folder.
        state_dir=settings.quix_state_dir,
    )


def idempotent_producer(settings: FunctionSettings) -> Producer:
    """A producer whose retries never duplicate a record: Lambda's Kafka adapter's."""
    from confluent_kafka import Producer

    return Producer({**settings.kafka_connection(), "enable.idempotence": True, "acks": "all"})
