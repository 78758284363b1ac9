"""The configuration of each audience, and the only reader of the environment.

Three audiences: a function's process (``FunctionSettings``), a client of the HTTP
functions (``ClientSettings``: the CLI, the benchmark) and the local stack
(``StackSettings``). They share their Kafka and S3 parts. Every variable the project
reads is declared once, beside its field (``runtime/declared.py``: how).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from functions.errors import ConfigurationError
from functions.messages import Stream
from functions.schedule import BillingSchedule
from runtime.declared import LOCAL_S3_CREDENTIALS, DeclaredSettings, read_secret, setting

REPO = Path(__file__).resolve().parent.parent
LOCAL_S3 = "http://127.0.0.1:4566"
DEAD_LETTER_SUFFIX = ".dlq"
TOKEN_FILE_NAME = "billing-token"


@dataclass(frozen=True)
class KafkaSettings(DeclaredSettings):
    """Where Kafka is and what its topics are called: shared by the functions and the stack.

    Point ``KAFKA_BOOTSTRAP_SERVERS`` at a managed Kafka (with ``KAFKA_SECURITY_PROTOCOL=
    SASL_SSL`` and its ``KAFKA_SASL_*``).
    """

    kafka_bootstrap_servers: str = setting(
        "127.0.0.1:9092",
        "KAFKA_BOOTSTRAP_SERVERS",
        doc="the brokers every Kafka client of every process connects to",
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

    def _check_together(self) -> None:
        super()._check_together()
        if self.kafka_security_protocol.startswith("SASL") and not (
            self.kafka_sasl_username and self.kafka_sasl_password
        ):
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


@dataclass(frozen=True)
class S3Settings(DeclaredSettings):
    """Where S3 is and what its buckets are called: shared by every audience. Set
    ``S3_ENDPOINT_URL`` to an empty string to use AWS S3 (credentials come from the usual
    AWS chain)."""

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

    @property
    def all_buckets(self) -> tuple[str, ...]:
        return (self.bills_bucket, self.jobs_bucket, self.customers_bucket)

    def local_s3_keys(self) -> tuple[str, str]:
        """The keys a local S3 server is started with and its clients sign with: the
        environment's AWS keys if it names them, else LOCAL_S3_CREDENTIALS."""
        if self.aws_access_key_id and self.aws_secret_access_key:
            return self.aws_access_key_id, self.aws_secret_access_key
        return LOCAL_S3_CREDENTIALS


@dataclass(frozen=True)
class LogSettings(DeclaredSettings):
    """How a process logs: every audience's."""

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


@dataclass(frozen=True)
class TokenSettings(DeclaredSettings):
    """The bearer token: the one the HTTP functions want, the one a client sends."""

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

    @cached_property
    def token(self) -> str | None:
        """BILLING_TOKEN, else the contents of BILLING_TOKEN_FILE (read on first use)."""
        if self.auth_token is None and self.auth_token_file:
            return read_secret(self.auth_token_file)
        return self.auth_token

    def secrets(self) -> list[str]:
        """With the token, wherever it was read from."""
        found = super().secrets()
        return [*found, self.token] if self.token and self.token not in found else found


@dataclass(frozen=True)
class ScheduleSettings(DeclaredSettings):
    """When billing runs on its own: read by the scheduler, and by `billing schedule`."""

    billing_schedule: str | None = setting(
        None,
        "BILLING_SCHEDULE",
        doc="a cron expression (minute hour day month weekday): at each tick, a run of every"
        " customer of the CRM starts; unset: none",
    )
    billing_schedule_tz: str = setting(
        "UTC", "BILLING_SCHEDULE_TZ", doc="the time zone BILLING_SCHEDULE is read in (IANA)"
    )
    schedule_catch_up_s: float = setting(
        86400.0,
        "SCHEDULE_CATCH_UP_S",
        doc="a tick missed while no scheduler ran is billed when one comes back this soon"
        " after it (only the latest such tick)",
    )

    def schedule(self) -> BillingSchedule | None:
        if self.billing_schedule is None:
            return None
        return BillingSchedule.parse(
            self.billing_schedule, self.billing_schedule_tz, self.schedule_catch_up_s
        )

    def _check_together(self) -> None:
        super()._check_together()
        self.schedule()  # an expression or a zone that cannot be read stops the process here


@dataclass(frozen=True)
class TraceSettings(DeclaredSettings):
    """OpenTelemetry's standard variables that turn tracing on and shape it
    (``runtime/tracing.py``); the SDK reads the others it knows (``OTEL_EXPORTER_OTLP_HEADERS``,
    timeouts) itself."""

    otel_exporter_otlp_endpoint: str | None = setting(
        None,
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        doc="set: every process sends its spans there over OTLP/HTTP (`/v1/traces`); unset:"
        " tracing is off, at no cost (`make up TRACES=1` sets it)",
    )
    otel_exporter_otlp_traces_endpoint: str | None = setting(
        None, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", doc="the same, for traces only, in full"
    )
    otel_service_name: str | None = setting(
        None, "OTEL_SERVICE_NAME", doc="the spans' `service.name`; unset: the function's name"
    )
    otel_traces_sampler: str = setting(
        "parentbased_always_on",
        "OTEL_TRACES_SAMPLER",
        doc="which traces are kept; `parentbased_traceidratio` with OTEL_TRACES_SAMPLER_ARG"
        " `0.01` keeps 1 workflow in 100, whole",
    )
    otel_traces_sampler_arg: str | None = setting(
        None, "OTEL_TRACES_SAMPLER_ARG", doc="the sampler's ratio, 0 to 1"
    )
    otel_sdk_disabled: str = setting(
        "false", "OTEL_SDK_DISABLED", doc="`true`: no tracing, whatever the endpoint"
    )

    @property
    def tracing(self) -> bool:
        endpoint = self.otel_exporter_otlp_traces_endpoint or self.otel_exporter_otlp_endpoint
        return bool(endpoint) and self.otel_sdk_disabled.lower() != "true"

    @property
    def trace_ratio(self) -> float:
        """The share of workflows the sampler keeps, when tracing is on."""
        if "traceidratio" in self.otel_traces_sampler:
            return float(self.otel_traces_sampler_arg or 1.0)
        return 0.0 if "always_off" in self.otel_traces_sampler else 1.0


@dataclass(frozen=True)
class ClientSettings(S3Settings, TokenSettings, LogSettings, ScheduleSettings):
    """What a client of the HTTP functions needs: the `billing` CLI's, the benchmark's."""

    coordinator_url: str = setting(
        "",
        "COORDINATOR_URL",
        doc="where clients (the `billing` CLI, the benchmark) find the coordinator; empty:"
        " 127.0.0.1 at COORDINATOR_PORT",
    )
    crm_url: str = setting(
        "", "CRM_URL", doc="where clients find the CRM; empty: 127.0.0.1 at CRM_PORT"
    )
    coordinator_port: int = setting(
        3007, "COORDINATOR_PORT", doc="the coordinator's port under `make up`"
    )
    crm_port: int = setting(3008, "CRM_PORT", doc="the CRM's port under `make up`")
    traces_url: str = setting(
        "",
        "TRACES_URL",
        doc="where `billing trace` finds Jaeger's query API; empty: 127.0.0.1 at TRACES_QUERY_PORT",
    )
    traces_query_port: int = setting(
        16686,
        "TRACES_QUERY_PORT",
        doc="`make up TRACES=1`: Jaeger's query API (its gRPC one is the port below)",
    )
    state_dir: str = setting(
        str(REPO / ".state"),
        "STATE_DIR",
        doc="where `make up` keeps the stack's data, logs and pid files",
        shown="<repository>/.state",
    )

    @property
    def coordinator_address(self) -> str:
        return self.coordinator_url or f"http://127.0.0.1:{self.coordinator_port}"

    @property
    def crm_address(self) -> str:
        return self.crm_url or f"http://127.0.0.1:{self.crm_port}"

    @property
    def traces_address(self) -> str:
        return self.traces_url or f"http://127.0.0.1:{self.traces_query_port}"

    @property
    def token_file(self) -> Path:
        """Where `make up` keeps the bearer token it made for the local stack."""
        return Path(self.state_dir) / TOKEN_FILE_NAME

    @cached_property
    def token(self) -> str | None:
        """The environment's token, else the one `make up` made for the local stack."""
        if self.auth_token is None and not self.auth_token_file and self.token_file.exists():
            return read_secret(str(self.token_file))
        return super().token


@dataclass(frozen=True)
class FunctionSettings(
    KafkaSettings, S3Settings, TokenSettings, LogSettings, ScheduleSettings, TraceSettings
):
    """What a function's process needs: the Kafka-triggered functions under the runtime or
    Lambda, the HTTP functions under functions-framework or Lambda."""

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
    cancel_check_s: float = setting(
        1.0,
        "CANCEL_CHECK_S",
        zero_allowed=True,
        doc="how long engine-start and engine-complete take a run they saw running for running"
        " (besides within a batch): a bill may be written this long, and a batch, after a cancel",
    )
    retry_interval_s: float = setting(
        5.0, "RETRY_INTERVAL_S", doc="how often `retry-unanswered` looks for overdue questions"
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
    function_target: str = setting(
        "http",
        "FUNCTION_TARGET",
        doc="the functions-framework target this process serves (functions-framework sets it)",
    )
    console_crm_url: str = setting(
        "http://127.0.0.1:3008",
        "CONSOLE_CRM_URL",
        doc="where the web console, which the coordinator serves, finds the CRM's API",
    )
    console_origins: str = setting(
        "http://127.0.0.1:3007 http://localhost:3007",
        "CONSOLE_ORIGINS",
        doc="the origins (space-separated) whose console pages may call this HTTP function"
        " from a browser (CORS): the coordinator's address, for the CRM",
    )
    supervisor_pid: int | None = setting(
        None,
        "BILLING_SUPERVISOR_PID",
        doc="the runtime's supervisor, which the functions it starts watch (set by `runtime all`)",
    )


@dataclass(frozen=True)
class StackSettings(FunctionSettings, ClientSettings):
    """The local stack (`make up`, ``infra/``): it runs the functions and serves the
    clients, so it holds both their settings and its own."""

    topic_partitions: int = setting(
        4, "TOPIC_PARTITIONS", doc="partitions of each topic `python -m infra.provision` creates"
    )
    topic_replication: int = setting(
        2, "TOPIC_REPLICATION", doc="copies of each topic, at most the number of brokers"
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
    traces: int = setting(
        0,
        "TRACES",
        zero_allowed=True,
        doc="`make up TRACES=1`: start a trace backend (Jaeger) and send every process's"
        " spans to it",
    )
    traces_otlp_port: int = setting(
        4318, "TRACES_OTLP_PORT", doc="`make up TRACES=1`: where Jaeger takes OTLP over HTTP"
    )
    s3_latency_ms: float = setting(
        0.0,
        "S3_LATENCY_MS",
        zero_allowed=True,
        doc="`make up`, `make bench`: above 0, the functions reach S3 through a proxy that"
        " holds each request this long, as a cloud store would",
    )
    s3_latency_port: int = setting(4567, "S3_LATENCY_PORT", doc="the latency proxy's port")


@dataclass(frozen=True)
class PriceSettings(DeclaredSettings):
    """AWS's list prices that `make bench` turns its measurements into dollars with (USD,
    us-east-1). They cannot be read from this machine: these are the published prices as
    of PRICES_AS_OF; set the variables to today's, or your region's."""

    prices_as_of: str = setting(
        "2024-06",
        "PRICES_AS_OF",
        doc="when the prices below were read off aws.amazon.com/s3/pricing and"
        " aws.amazon.com/lambda/pricing",
    )
    s3_write_price_per_1000: float = setting(
        0.005,
        "S3_WRITE_PRICE_PER_1000",
        doc="S3 Standard: PUT, COPY, POST and LIST requests, per 1,000",
    )
    s3_read_price_per_1000: float = setting(
        0.0004,
        "S3_READ_PRICE_PER_1000",
        doc="S3 Standard: GET, HEAD and other reads, per 1,000 (DELETE is free)",
    )
    lambda_gb_second_price: float = setting(
        0.0000166667, "LAMBDA_GB_SECOND_PRICE", doc="Lambda on x86, per GB-second of duration"
    )
    lambda_request_price_per_million: float = setting(
        0.20, "LAMBDA_REQUEST_PRICE_PER_MILLION", doc="Lambda, per million invocations"
    )
    lambda_batch_size: int = setting(
        100,
        "LAMBDA_BATCH_SIZE",
        doc="records an event source mapping hands a Kafka-triggered function at once, as"
        " infra/aws/template.yaml sets it",
    )


@dataclass(frozen=True)
class ComposeSettings(DeclaredSettings):
    """The host ports the compose stack publishes on: docker-compose.yml reads the same
    variables and takes today's ports where they are unset; `make compose-check` takes
    free ones, so that it runs beside `make up`."""

    compose_kafka_port: int = setting(
        0,
        "COMPOSE_KAFKA_PORT",
        zero_allowed=True,
        doc="Kafka under `docker compose` (unset: 9092; `make compose-check`: a free port)",
    )
    compose_s3_port: int = setting(
        0,
        "COMPOSE_S3_PORT",
        zero_allowed=True,
        doc="LocalStack's S3 (unset: 4566; `make compose-check`: a free port)",
    )
    compose_coordinator_port: int = setting(
        0,
        "COMPOSE_COORDINATOR_PORT",
        zero_allowed=True,
        doc="the coordinator (unset: 3007; `make compose-check`: a free port)",
    )
    compose_crm_port: int = setting(
        0,
        "COMPOSE_CRM_PORT",
        zero_allowed=True,
        doc="the CRM (unset: 3008; `make compose-check`: a free port)",
    )
    compose_metrics_ports: str = setting(
        "",
        "COMPOSE_METRICS_PORTS",
        doc="the runtime's four metrics ports, as a range (unset: 9400-9403;"
        " `make compose-check`: four free ones)",
    )


AUDIENCES: tuple[type[DeclaredSettings], ...] = (
    KafkaSettings,
    S3Settings,
    LogSettings,
    TokenSettings,
    ScheduleSettings,
    TraceSettings,
    ClientSettings,
    FunctionSettings,
    StackSettings,
    PriceSettings,
    ComposeSettings,
)
