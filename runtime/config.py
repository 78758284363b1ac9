"""The one configuration object of a process, and the only reader of its environment.

Every variable the project reads is declared once, beside its field: its name, its type
(the annotation), its default, the values it allows and whether it is a secret. Whatever
builds a ``Settings`` (the environment, a test, ``dataclasses.replace``) goes through the
same checks in ``__post_init__``.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from functions.errors import ConfigurationError
from functions.messages import Stream

REPO = Path(__file__).resolve().parent.parent
LOCAL_S3 = "http://127.0.0.1:4566"
# What a local S3 server (S3Proxy, LocalStack, moto) is started with and signed for, unless
# AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY say otherwise. Real AWS takes the usual chain.
LOCAL_S3_CREDENTIALS = ("test", "test")
DEAD_LETTER_SUFFIX = ".dlq"
TOKEN_FILE_NAME = "billing-token"


def setting(
    default: Any,
    env: str,
    *,
    choices: tuple[str, ...] = (),
    secret: bool = False,
    zero_allowed: bool = False,
    upper: bool = False,
    doc: str,
    shown: str | None = None,
) -> Any:
    """A field read from ``env``. Numbers must be greater than zero unless ``zero_allowed``;
    ``upper``: the value is upper-cased as it is read (LOG_LEVEL=debug). ``doc`` says what
    it is for, in docs/configuration.md; ``shown``: the default as that page shows it, where
    the value depends on the machine."""
    metadata = {
        "env": env,
        "choices": choices,
        "zero_allowed": zero_allowed,
        "upper": upper,
        "doc": doc,
        "shown": shown,
    }
    return field(default=default, repr=not secret, metadata={**metadata, "secret": secret})


@dataclass(frozen=True)
class Settings:
    """Every knob, with defaults that match the local stack started by ``make up``.

    Point ``KAFKA_BOOTSTRAP_SERVERS`` at a managed Kafka (with ``KAFKA_SECURITY_PROTOCOL=
    SASL_SSL`` and its ``KAFKA_SASL_*``) and set ``S3_ENDPOINT_URL`` to an empty string
    to use AWS S3 (credentials come from the usual AWS chain).
    """

    kafka_bootstrap_servers: str = setting(
        "127.0.0.1:9092",
        "KAFKA_BOOTSTRAP_SERVERS",
        doc="the brokers every Kafka client of every process connects to",
    )
    s3_endpoint_url: str | None = setting(
        LOCAL_S3, "S3_ENDPOINT_URL", doc="the S3 server; empty: AWS S3 itself"
    )
    aws_region: str = setting("us-east-1", "AWS_DEFAULT_REGION", doc="the S3 region")
    aws_access_key_id: str | None = setting(
        None,
        "AWS_ACCESS_KEY_ID",
        doc="unset: boto3's own chain (profile, role), or `test` for a local S3 server",
    )
    aws_secret_access_key: str | None = setting(
        None,
        "AWS_SECRET_ACCESS_KEY",
        secret=True,
        doc="unset: boto3's own chain, or `test` for a local S3 server",
    )
    aws_session_token: str | None = setting(
        None, "AWS_SESSION_TOKEN", secret=True, doc="with temporary credentials"
    )
    bills_bucket: str = setting(
        "bills", "BILLS_BUCKET", doc="the bills, `<run id>/customer-bill-<customer>.txt`"
    )
    jobs_bucket: str = setting(
        "billing-jobs", "JOBS_BUCKET", doc="runs, waiting and failed jobs, questions asked again"
    )
    customers_bucket: str = setting(
        "crm-customers", "CUSTOMERS_BUCKET", doc="the CRM's customers and its blocks of ids"
    )
    workflow_topic: str = setting(
        "workflow-queue", "WORKFLOW_TOPIC", doc="the coordinator's workflows (the lab's name)"
    )
    questions_topic: str = setting(
        "questions-topic",
        "QUESTIONS_TOPIC",
        doc="the engine's questions to the CRM (the lab's name)",
    )
    answers_topic: str = setting(
        "answers-topic", "ANSWERS_TOPIC", doc="the CRM's answers (the lab's name)"
    )
    topic_partitions: int = setting(
        4, "TOPIC_PARTITIONS", doc="partitions of each topic `python -m infra.provision` creates"
    )
    topic_replication: int = setting(
        2, "TOPIC_REPLICATION", doc="copies of each topic, at most the number of brokers"
    )
    consumer_group_prefix: str = setting(
        "",
        "CONSUMER_GROUP_PREFIX",
        doc="put before every consumer group's name, to run two systems on one cluster",
    )
    publish_timeout_s: float = setting(
        10.0,
        "PUBLISH_TIMEOUT_S",
        doc="how long a producer waits for Kafka to acknowledge what it sent",
    )
    storage_retry_s: float = setting(
        60.0,
        "STORAGE_RETRY_S",
        doc="how long an S3 outage is retried before a worker stops without committing",
    )
    commit_interval_s: float = setting(
        1.0,
        "COMMIT_INTERVAL_S",
        doc="how often a Kafka-triggered function commits what it finished",
    )
    max_in_flight: int = setting(
        32,
        "MAX_IN_FLIGHT",
        doc="records one Kafka-triggered function works on at once (threads waiting on S3)",
    )
    processing_guarantee: str = setting(
        "at-least-once",
        "PROCESSING_GUARANTEE",
        choices=("at-least-once", "exactly-once"),
        doc="at-least-once: S3 writes sit outside any Kafka transaction, so exactly-once"
        " adds a transaction per commit without making a bill more certain",
    )
    session_timeout_s: float = setting(
        10.0,
        "KAFKA_SESSION_TIMEOUT_S",
        doc="how soon a crashed worker's partitions go to another (Kafka's own default is 45 s)",
    )
    answer_timeout_s: float = setting(
        30.0,
        "ANSWER_TIMEOUT_S",
        doc="how long a question waits for its answer before it is asked again",
    )
    answer_backoff: float = setting(
        2.0, "ANSWER_BACKOFF", doc="each wait is this many times the one before"
    )
    answer_attempts: int = setting(5, "ANSWER_ATTEMPTS", doc="questions asked before the job fails")
    retry_interval_s: float = setting(
        5.0, "RETRY_INTERVAL_S", doc="how often `retry-unanswered` looks for overdue questions"
    )
    log_level: str = setting(
        "INFO",
        "LOG_LEVEL",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        upper=True,
        doc="the least level logged",
    )
    log_format: str = setting(
        "json",
        "LOG_FORMAT",
        choices=("json", "text"),
        doc="json: one object a line; text: for people",
    )
    metrics_host: str = setting(
        "127.0.0.1",
        "METRICS_HOST",
        doc="where the Kafka-triggered functions serve their Prometheus metrics",
    )
    metrics_port: int = setting(
        9400,
        "METRICS_PORT",
        zero_allowed=True,
        doc="the first Kafka-triggered function's metrics port; `runtime all` counts up"
        " from it; 0: off",
    )
    quix_state_dir: str = setting(
        os.path.join(tempfile.gettempdir(), "billing-quix-state"),
        "QUIX_STATE_DIR",
        doc="quix-streams' state folder (the functions keep no state there)",
        shown="<temp folder>/billing-quix-state",
    )
    kafka_security_protocol: str = setting(
        "PLAINTEXT",
        "KAFKA_SECURITY_PROTOCOL",
        choices=("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"),
        doc="a managed Kafka (Confluent Cloud, MSK, Aiven...): SASL_SSL with a user and password",
    )
    kafka_sasl_mechanism: str = setting(
        "PLAIN",
        "KAFKA_SASL_MECHANISM",
        choices=("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"),
        doc="the SASL mechanism of a managed Kafka",
    )
    kafka_sasl_username: str | None = setting(
        None, "KAFKA_SASL_USERNAME", doc="a managed Kafka's API key"
    )
    kafka_sasl_password: str | None = setting(
        None, "KAFKA_SASL_PASSWORD", secret=True, doc="a managed Kafka's API secret"
    )
    kafka_ssl_ca_location: str | None = setting(
        None, "KAFKA_SSL_CA_LOCATION", doc="the CA bundle to trust; unset: the system's"
    )
    auth_token: str | None = setting(
        None,
        "BILLING_TOKEN",
        secret=True,
        doc="set: both HTTP functions want `Authorization: Bearer <token>`; unset: no auth"
        " (`make up` sets one)",
    )
    auth_token_file: str | None = setting(
        None, "BILLING_TOKEN_FILE", doc="a file holding the token, read when BILLING_TOKEN is unset"
    )
    coordinator_port: int = setting(
        3007, "COORDINATOR_PORT", doc="the coordinator's port under `make up`"
    )
    crm_port: int = setting(3008, "CRM_PORT", doc="the CRM's port under `make up`")
    coordinator_url: str = setting(
        "",
        "COORDINATOR_URL",
        doc="where clients (the `billing` CLI, the benchmark) find the coordinator; empty:"
        " 127.0.0.1 at COORDINATOR_PORT",
    )
    crm_url: str = setting(
        "", "CRM_URL", doc="where clients find the CRM; empty: 127.0.0.1 at CRM_PORT"
    )
    function_target: str = setting(
        "http",
        "FUNCTION_TARGET",
        doc="the functions-framework target this process serves (functions-framework sets it)",
    )
    supervisor_pid: int | None = setting(
        None,
        "BILLING_SUPERVISOR_PID",
        doc="the runtime's supervisor, which the functions it starts watch (set by `runtime all`)",
    )

    # The local stack (`make up`, infra/): where it keeps its state and how it runs.
    state_dir: str = setting(
        str(REPO / ".state"),
        "STATE_DIR",
        doc="where `make up` keeps the stack's data, logs and pid files",
        shown="<repository>/.state",
    )
    brokers: int = setting(
        1, "BROKERS", doc="`make up`: 1 broker, or 3 for a cluster any one node of which may die"
    )
    kafka_heap: str = setting(
        "-Xms256m -Xmx1g", "KAFKA_HEAP", doc="`make up`: the brokers' JVM heap"
    )
    kafka_cache_dir: str = setting(
        str(Path.home() / ".cache" / "kafka-billing"),
        "KAFKA_CACHE_DIR",
        doc="`make install`: where Maven puts the broker's and the S3 server's jars",
        shown="~/.cache/kafka-billing",
    )
    s3_server_heap: str = setting(
        "-Xms64m -Xmx512m", "S3_SERVER_HEAP", doc="`make up`: the S3 server's JVM heap"
    )
    s3_latency_ms: float = setting(
        0.0,
        "S3_LATENCY_MS",
        zero_allowed=True,
        doc="`make up`, `make bench`: above 0, the functions reach S3 through a proxy that"
        " holds each request this long, as a cloud store would",
    )
    s3_latency_port: int = setting(4567, "S3_LATENCY_PORT", doc="the latency proxy's port")

    def __post_init__(self) -> None:
        for spec in dataclasses.fields(self):
            _check(spec, getattr(self, spec.name))
        if self.kafka_security_protocol.startswith("SASL") and not (
            self.kafka_sasl_username and self.kafka_sasl_password
        ):
            raise ConfigurationError(
                f"KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs"
                " KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (your cluster's API key and secret)"
            )
        if self.auth_token is None and self.auth_token_file:
            object.__setattr__(self, "auth_token", _read_secret(self.auth_token_file))
        for url, port in (("coordinator_url", self.coordinator_port), ("crm_url", self.crm_port)):
            if not getattr(self, url):
                object.__setattr__(self, url, f"http://127.0.0.1:{port}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        types = typing.get_type_hints(cls)
        values = {}
        for spec in dataclasses.fields(cls):
            raw = env.get(spec.metadata["env"])
            if raw is None or (raw == "" and types[spec.name] in (int, float)):
                continue  # S3_LATENCY_MS= means the default, as unset does
            values[spec.name] = _parse(spec, types[spec.name], raw)
        return cls(**values)

    def to_env(self) -> dict[str, str]:
        """The environment that makes another process read these same settings. A value
        left unset is left out, so that the other process's own chain (AWS's) applies."""
        env = {}
        for spec in dataclasses.fields(self):
            value = getattr(self, spec.name)
            if value is not None:
                env[spec.metadata["env"]] = str(value)
            elif spec.default is not None:
                env[spec.metadata["env"]] = ""  # S3_ENDPOINT_URL= : AWS S3
        return env

    def secrets(self) -> list[str]:
        """The secret values set, so that logs can blank them. A local server's dummy
        credentials are no secret, and blanking them would garble every line."""
        fields = dataclasses.fields(self)
        values = (getattr(self, spec.name) for spec in fields if spec.metadata["secret"])
        return [value for value in values if value and value not in LOCAL_S3_CREDENTIALS]

    def local_s3_keys(self) -> tuple[str, str]:
        """The keys a local S3 server is started with and its clients sign with: the
        environment's AWS keys if it names them, else LOCAL_S3_CREDENTIALS."""
        if self.aws_access_key_id and self.aws_secret_access_key:
            return self.aws_access_key_id, self.aws_secret_access_key
        return LOCAL_S3_CREDENTIALS

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

    @property
    def token_file(self) -> Path:
        """Where `make up` keeps the bearer token it made for the local stack."""
        return Path(self.state_dir) / TOKEN_FILE_NAME


def client_settings(env: Mapping[str, str] | None = None) -> Settings:
    """A client's settings (the `billing` CLI's, the benchmark's): the environment's, with
    the token `make up` made when the environment names none."""
    settings = Settings.from_env(env)
    if settings.auth_token is None and settings.token_file.exists():
        return dataclasses.replace(settings, auth_token_file=str(settings.token_file))
    return settings


def _parse(spec: dataclasses.Field[Any], annotation: Any, raw: str) -> Any:
    name = spec.metadata["env"]
    optional = type(None) in typing.get_args(annotation)
    kind = next((a for a in typing.get_args(annotation) if a is not type(None)), annotation)
    if optional and not raw:
        return None
    if kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            raise ConfigurationError(f"{name}={raw!r} is not a {kind.__name__}") from None
    return raw.upper() if spec.metadata["upper"] else raw


def _check(spec: dataclasses.Field[Any], value: Any) -> None:
    name, choices = spec.metadata["env"], spec.metadata["choices"]
    if choices and value not in choices:
        raise ConfigurationError(f"{name}={value!r}; use one of {choices}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        zero_allowed = spec.metadata["zero_allowed"]
        if value < 0 or (value == 0 and not zero_allowed):
            least = "zero or more" if zero_allowed else "greater than zero"
            raise ConfigurationError(f"{name}={value!r} must be {least}")


def _read_secret(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as file:
            secret = file.read().strip()
    except OSError as exc:
        raise ConfigurationError(
            f"BILLING_TOKEN_FILE={path!r} cannot be read: {exc.strerror}"
        ) from None
    if not secret:
        raise ConfigurationError(f"BILLING_TOKEN_FILE={path!r} is empty; put the token in it")
    return secret
