"""The one configuration object of a process, read from the environment here and only here."""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field

from functions.errors import ConfigurationError
from functions.messages import Stream

LOCAL_S3 = "http://127.0.0.1:4566"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS = ("json", "text")
SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
PROCESSING_GUARANTEES = ("at-least-once", "exactly-once")
DEAD_LETTER_SUFFIX = ".dlq"

# Settings field -> environment variable. Every variable the project reads is here, and
# BILLING_TOKEN_FILE: a file holding the token, read when BILLING_TOKEN is unset.
ENVIRONMENT = {
    "kafka_bootstrap_servers": "KAFKA_BOOTSTRAP_SERVERS",
    "s3_endpoint_url": "S3_ENDPOINT_URL",
    "aws_region": "AWS_DEFAULT_REGION",
    "bills_bucket": "BILLS_BUCKET",
    "jobs_bucket": "JOBS_BUCKET",
    "customers_bucket": "CUSTOMERS_BUCKET",
    "workflow_topic": "WORKFLOW_TOPIC",
    "questions_topic": "QUESTIONS_TOPIC",
    "answers_topic": "ANSWERS_TOPIC",
    "topic_partitions": "TOPIC_PARTITIONS",
    "topic_replication": "TOPIC_REPLICATION",
    "consumer_group_prefix": "CONSUMER_GROUP_PREFIX",
    "publish_timeout_s": "PUBLISH_TIMEOUT_S",
    "storage_retry_s": "STORAGE_RETRY_S",
    "commit_interval_s": "COMMIT_INTERVAL_S",
    "max_in_flight": "MAX_IN_FLIGHT",
    "processing_guarantee": "PROCESSING_GUARANTEE",
    "session_timeout_s": "KAFKA_SESSION_TIMEOUT_S",
    "answer_timeout_s": "ANSWER_TIMEOUT_S",
    "answer_backoff": "ANSWER_BACKOFF",
    "answer_attempts": "ANSWER_ATTEMPTS",
    "retry_interval_s": "RETRY_INTERVAL_S",
    "log_level": "LOG_LEVEL",
    "metrics_host": "METRICS_HOST",
    "metrics_port": "METRICS_PORT",
    "quix_state_dir": "QUIX_STATE_DIR",
    "log_format": "LOG_FORMAT",
    "kafka_security_protocol": "KAFKA_SECURITY_PROTOCOL",
    "kafka_sasl_mechanism": "KAFKA_SASL_MECHANISM",
    "kafka_sasl_username": "KAFKA_SASL_USERNAME",
    "kafka_sasl_password": "KAFKA_SASL_PASSWORD",
    "kafka_ssl_ca_location": "KAFKA_SSL_CA_LOCATION",
    "auth_token": "BILLING_TOKEN",
    "coordinator_url": "COORDINATOR_URL",
    "crm_url": "CRM_URL",
}
# Never logged, never shown in a repr; logs have them replaced should one slip in.
SECRETS = ("kafka_sasl_password", "auth_token")


@dataclass(frozen=True)
class Settings:
    """Every knob, with defaults that match the local stack started by ``make up``.

    Point ``KAFKA_BOOTSTRAP_SERVERS`` at a managed Kafka (with ``KAFKA_SECURITY_PROTOCOL=
    SASL_SSL`` and its ``KAFKA_SASL_*``) and set ``S3_ENDPOINT_URL`` to an empty string
    to use AWS S3 (credentials come from the usual AWS chain).
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
    topic_partitions: int = 4
    topic_replication: int = 2
    consumer_group_prefix: str = ""
    publish_timeout_s: float = 10.0
    storage_retry_s: float = 60.0
    commit_interval_s: float = 1.0
    # Records one Kafka-triggered function works on at once (threads waiting on S3).
    max_in_flight: int = 32
    # at-least-once is the default: S3 writes sit outside any Kafka transaction, so
    # exactly-once adds a transaction per checkpoint without making a bill more certain.
    processing_guarantee: str = "at-least-once"
    # How soon a crashed worker's partitions go to another; Kafka's own default is 45 s.
    session_timeout_s: float = 10.0
    answer_timeout_s: float = 30.0
    answer_backoff: float = 2.0
    answer_attempts: int = 5
    retry_interval_s: float = 5.0
    log_level: str = "INFO"
    metrics_host: str = "127.0.0.1"
    # The first Kafka-triggered function's port; `runtime all` counts up from it. 0: off.
    metrics_port: int = 9400
    quix_state_dir: str = os.path.join(tempfile.gettempdir(), "billing-quix-state")
    log_format: str = "json"
    # A managed Kafka (Confluent Cloud, MSK, Aiven...): SASL_SSL with a user and password.
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str = "PLAIN"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: str | None = field(default=None, repr=False)
    # The CA bundle to trust; None: the system's.
    kafka_ssl_ca_location: str | None = None
    # Set: both HTTP functions want `Authorization: Bearer <token>`; unset: no auth.
    auth_token: str | None = field(default=None, repr=False)
    # Where the `billing` CLI finds the HTTP functions.
    coordinator_url: str = "http://127.0.0.1:3007"
    crm_url: str = "http://127.0.0.1:3008"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for spec in dataclasses.fields(cls):
            name = ENVIRONMENT[spec.name]
            if name not in env:
                continue
            raw = env[name]
            if spec.type in ("int", "float"):
                kind = int if spec.type == "int" else float
                values[spec.name] = _number(name, raw, kind, zero_allowed=name == "METRICS_PORT")
            elif spec.type == "str | None":
                values[spec.name] = raw or None  # empty S3_ENDPOINT_URL: real AWS S3
            else:
                values[spec.name] = raw
        if not values.get("auth_token") and env.get("BILLING_TOKEN_FILE"):
            values["auth_token"] = _read_secret("BILLING_TOKEN_FILE", env["BILLING_TOKEN_FILE"])
        settings = cls(**values)  # type: ignore[arg-type]
        if settings.log_level.upper() not in LOG_LEVELS:
            raise ConfigurationError(f"LOG_LEVEL={settings.log_level!r}; use one of {LOG_LEVELS}")
        if settings.processing_guarantee not in PROCESSING_GUARANTEES:
            raise ConfigurationError(
                f"PROCESSING_GUARANTEE={settings.processing_guarantee!r};"
                f" use one of {PROCESSING_GUARANTEES}"
            )
        settings._check_choices()
        return dataclasses.replace(settings, log_level=settings.log_level.upper())

    def _check_choices(self) -> None:
        for name, value, allowed in (
            ("LOG_FORMAT", self.log_format, LOG_FORMATS),
            ("KAFKA_SECURITY_PROTOCOL", self.kafka_security_protocol, SECURITY_PROTOCOLS),
            ("KAFKA_SASL_MECHANISM", self.kafka_sasl_mechanism, SASL_MECHANISMS),
        ):
            if value not in allowed:
                raise ConfigurationError(f"{name}={value!r}; use one of {allowed}")
        sasl = self.kafka_security_protocol.startswith("SASL")
        if sasl and not (self.kafka_sasl_username and self.kafka_sasl_password):
            raise ConfigurationError(
                f"KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs"
                " KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (your cluster's API key and secret)"
            )

    def kafka_connection(self) -> dict[str, str]:
        """librdkafka's connection settings, for every client of every process."""
        connection = {
            "bootstrap.servers": self.kafka_bootstrap_servers,
            "security.protocol": self.kafka_security_protocol,
        }
        if self.kafka_security_protocol.startswith("SASL"):
            connection["sasl.mechanism"] = self.kafka_sasl_mechanism
            connection["sasl.username"] = self.kafka_sasl_username or ""
            connection["sasl.password"] = self.kafka_sasl_password or ""
        if self.kafka_ssl_ca_location:
            connection["ssl.ca.location"] = self.kafka_ssl_ca_location
        return connection

    def secrets(self) -> list[str]:
        """The secret values set, so that logs can blank them."""
        values = (getattr(self, name) for name in SECRETS)
        return [value for value in values if value]

    def to_env(self) -> dict[str, str]:
        """The environment that makes another process read these same settings."""
        return {
            ENVIRONMENT[name]: "" if value is None else str(value)
            for name, value in dataclasses.asdict(self).items()
        }

    def topic(self, stream: Stream) -> str:
        return {
            Stream.WORKFLOWS: self.workflow_topic,
            Stream.QUESTIONS: self.questions_topic,
            Stream.ANSWERS: self.answers_topic,
        }[stream]

    @staticmethod
    def dead_letter_topic(source_topic: str) -> str:
        """Where records of ``source_topic`` that cannot be processed are parked."""
        return source_topic + DEAD_LETTER_SUFFIX

    @property
    def all_topics(self) -> tuple[str, ...]:
        sources = (self.workflow_topic, self.questions_topic, self.answers_topic)
        return sources + tuple(self.dead_letter_topic(topic) for topic in sources)

    @property
    def all_buckets(self) -> tuple[str, ...]:
        return (self.bills_bucket, self.jobs_bucket, self.customers_bucket)


def _read_secret(name: str, path: str) -> str:
    try:
        with open(path, encoding="utf-8") as file:
            secret = file.read().strip()
    except OSError as exc:
        raise ConfigurationError(f"{name}={path!r} cannot be read: {exc.strerror}") from None
    if not secret:
        raise ConfigurationError(f"{name}={path!r} is empty; put the token in it")
    return secret


def _number(
    name: str, raw: str, kind: type[int] | type[float], zero_allowed: bool = False
) -> int | float:
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not a {kind.__name__}") from None
    if value < 0 or (value == 0 and not zero_allowed):
        least = "zero or more" if zero_allowed else "greater than zero"
        raise ConfigurationError(f"{name}={raw!r} must be {least}")
    return value
