"""Create the topics and buckets the functions use; safe to run any number of times.

python -m infra.provision
"""

from __future__ import annotations

import logging
import sys
import time

from botocore.exceptions import BotoCoreError, ClientError
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from functions.errors import ConfigurationError
from functions.storage.bucket import NOT_FOUND
from functions.storage.migrations import (
    adopt_legacy_pending_jobs,
    index_customer_names,
    move_legacy_customers,
)
from infra.tool import run_tool
from runtime.config import StackSettings
from runtime.services import Services, s3_client

log = logging.getLogger("infra.provision")


def provision_topics(settings: StackSettings, timeout_s: float = 60.0) -> None:
    admin = AdminClient(settings.kafka_connection())
    try:
        metadata = admin.list_topics(timeout=timeout_s)
    except KafkaException as exc:
        raise ConfigurationError(
            f"Kafka at {settings.kafka_bootstrap_servers} did not answer: {exc}; is it running?"
        ) from exc
    # One broker can hold one copy; a cluster holds as many as configured.
    replication = min(settings.topic_replication, len(metadata.brokers))
    missing = [name for name in settings.all_topics if name not in metadata.topics]
    for name in settings.all_topics:
        if name in metadata.topics:
            partitions = len(metadata.topics[name].partitions)
            log.info("topic %s exists (%d partitions)", name, partitions)
    if not missing:
        return
    futures = admin.create_topics(
        [NewTopic(name, settings.topic_partitions, replication) for name in missing],
        request_timeout=timeout_s,
    )
    for name, future in futures.items():
        try:
            future.result()
            log.info(
                "topic %s created (%d partitions, replication %d)",
                name,
                settings.topic_partitions,
                replication,
            )
        except KafkaException as exc:
            if exc.args[0].name() != "TOPIC_ALREADY_EXISTS":
                raise
    _wait_for_leaders(admin, missing, timeout_s)


def _wait_for_leaders(admin: AdminClient, topics: list[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        metadata = admin.list_topics(timeout=timeout_s)
        ready = all(
            name in metadata.topics
            and metadata.topics[name].error is None
            and all(p.leader >= 0 for p in metadata.topics[name].partitions.values())
            for name in topics
        )
        if ready:
            return
        time.sleep(0.2)
    raise ConfigurationError(f"topics {topics} have no partition leaders after {timeout_s}s")


def provision_buckets(settings: StackSettings) -> None:
    s3 = s3_client(settings)
    for name in settings.all_buckets:
        try:
            s3.head_bucket(Bucket=name)
            log.info("bucket %s exists", name)
            continue
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in NOT_FOUND:
                raise ConfigurationError(f"cannot check bucket {name}: {exc}") from exc
        except BotoCoreError as exc:
            raise ConfigurationError(
                f"S3 at {settings.s3_endpoint_url or 'AWS'} did not answer: {exc}; is it running?"
            ) from exc
        extra = {}
        if settings.aws_region != "us-east-1":
            extra = {"CreateBucketConfiguration": {"LocationConstraint": settings.aws_region}}
        try:
            s3.create_bucket(Bucket=name, **extra)  # type: ignore[arg-type]
            log.info("bucket %s created", name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
                raise


def migrate_storage(settings: StackSettings) -> None:
    """Move what an earlier version kept in another layout (``functions/storage/migrations.py``)."""
    services = Services(settings)
    context = services.context
    adopt_legacy_pending_jobs(services.bucket(settings.jobs_bucket), context.new_jobs)
    customers_bucket = services.bucket(settings.customers_bucket)
    move_legacy_customers(customers_bucket, context.customers)
    index_customer_names(customers_bucket, context.customers)


def provision(settings: StackSettings) -> None:
    provision_topics(settings)
    provision_buckets(settings)
    migrate_storage(settings)


def main() -> int:
    def act(settings: StackSettings) -> int:
        provision(settings)
        return 0

    return run_tool("provision", act)


if __name__ == "__main__":
    sys.exit(main())
