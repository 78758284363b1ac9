"""The one configuration object of a process, read from the environment here and only here."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass

from functions.errors import ConfigurationError
from functions.messages import Stream

LOCAL_S3 = "http://127.0.0.1:4566"


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not a number") from None
    if value <= 0:
        raise ConfigurationError(f"{name}={raw!r} must be greater than zero")
    return value


@dataclass(frozen=True)
class Settings:
    """Every knob, with defaults that match the local stack started by ``make up``.

    Point ``KAFKA_BOOTSTRAP_SERVERS`` at a managed Kafka and set ``S3_ENDPOINT_URL``
    to an empty string to use AWS S3 (credentials come from the usual AWS chain).
    """

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    s3_endpoint_url: str | None = LOCAL_S3
    aws_region: str = "us-east-1"
    bills_bucket: str = "bills"
    jobs_bucket: str = "billing-jobs"
    customers_bucket: str = "crm-customers"
    workflow_topic: str = "workflow-queue"
    questions_topic: str = "questions-topic"
    answers_topic: str = "answers-topic"
    dead_letter_topic: str = "billing-dead-letters"
    topic_partitions: int = 4
    consumer_group_prefix: str = ""
    publish_timeout_s: float = 10.0
    storage_retry_s: float = 60.0
    log_level: str = "INFO"
    quix_state_dir: str = os.path.join(tempfile.gettempdir(), "billing-quix-state")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        defaults = cls()
        endpoint = env.get("S3_ENDPOINT_URL", defaults.s3_endpoint_url)
        log_level = env.get("LOG_LEVEL", defaults.log_level).upper()
        if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ConfigurationError(f"LOG_LEVEL={log_level!r}; use DEBUG, INFO, WARNING or ERROR")
        return cls(
            kafka_bootstrap_servers=env.get(
                "KAFKA_BOOTSTRAP_SERVERS", defaults.kafka_bootstrap_servers
            ),
            s3_endpoint_url=endpoint or None,
            aws_region=env.get("AWS_REGION", env.get("AWS_DEFAULT_REGION", defaults.aws_region)),
            bills_bucket=env.get("BILLS_BUCKET", defaults.bills_bucket),
            jobs_bucket=env.get("JOBS_BUCKET", defaults.jobs_bucket),
            customers_bucket=env.get("CUSTOMERS_BUCKET", defaults.customers_bucket),
            workflow_topic=env.get("WORKFLOW_TOPIC", defaults.workflow_topic),
            questions_topic=env.get("QUESTIONS_TOPIC", defaults.questions_topic),
            answers_topic=env.get("ANSWERS_TOPIC", defaults.answers_topic),
            dead_letter_topic=env.get("DEAD_LETTER_TOPIC", defaults.dead_letter_topic),
            topic_partitions=int(_number(env, "TOPIC_PARTITIONS", defaults.topic_partitions)),
            consumer_group_prefix=env.get("CONSUMER_GROUP_PREFIX", defaults.consumer_group_prefix),
            publish_timeout_s=_number(env, "PUBLISH_TIMEOUT_S", defaults.publish_timeout_s),
            storage_retry_s=_number(env, "STORAGE_RETRY_S", defaults.storage_retry_s),
            log_level=log_level,
            quix_state_dir=env.get("QUIX_STATE_DIR", defaults.quix_state_dir),
        )

    def topic(self, stream: Stream) -> str:
        return {
            Stream.WORKFLOWS: self.workflow_topic,
            Stream.QUESTIONS: self.questions_topic,
            Stream.ANSWERS: self.answers_topic,
        }[stream]

    @property
    def all_topics(self) -> tuple[str, ...]:
        return (
            self.workflow_topic,
            self.questions_topic,
            self.answers_topic,
            self.dead_letter_topic,
        )

    @property
    def all_buckets(self) -> tuple[str, ...]:
        return (self.bills_bucket, self.jobs_bucket, self.customers_bucket)
