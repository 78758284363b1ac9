"""The parts the audiences share: where Kafka and S3 are, how a process logs, the bearer
token, the billing schedule. Each is declared once and inherited by every audience that
reads it (``runtime/config/__init__.py`` lists them)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from functions.errors import ConfigurationError
from functions.runs.schedule import BillingSchedule
from functions.wire.billing_period import PERIOD_LENGTHS
from functions.wire.messages import Stream
from runtime.config.declared import LOCAL_S3_CREDENTIALS, DeclaredSettings, read_secret, setting

REPO = Path(__file__).resolve().parent.parent.parent
LOCAL_S3 = "http://127.0.0.1:4566"
DEAD_LETTER_SUFFIX = ".dlq"


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
    tokens_bucket: str | None = setting(
        None,
        "TOKENS_BUCKET",
        doc="the named tokens (`billing tokens`), a record each holding its SHA-256 digest,"
        " never the token, and the audit trail (`billing audit ls`): keep the bucket private."
        " Set, both HTTP functions want a bearer token; unset, they keep no named tokens and"
        " no audit (`make up` sets `billing-tokens`)",
    )

    @property
    def all_buckets(self) -> tuple[str, ...]:
        kept = (self.bills_bucket, self.jobs_bucket, self.customers_bucket)
        return (*kept, self.tokens_bucket) if self.tokens_bucket else kept

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
    """The bearer token of the environment: one the HTTP functions take as an admin's
    (named `BILLING_TOKEN`), the one a client sends."""

    auth_token: str | None = setting(
        None,
        "BILLING_TOKEN",
        secret=True,
        doc="set: both HTTP functions want `Authorization: Bearer <token>`, and take this one"
        " as an admin's; a client sends it. Unset, and TOKENS_BUCKET unset too: no auth",
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
class PortSettings(DeclaredSettings):
    """Where the HTTP functions listen under `make up`: the stack starts them there, the
    clients find them there, and the coordinator's console calls the CRM there."""

    coordinator_port: int = setting(
        3007, "COORDINATOR_PORT", doc="the coordinator's port under `make up`"
    )
    crm_port: int = setting(3008, "CRM_PORT", doc="the CRM's port under `make up`")


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
    billing_period: str = setting(
        "month",
        "BILLING_PERIOD",
        choices=PERIOD_LENGTHS,
        doc="the length of the billing period a tick bills, the one it falls in (in"
        " BILLING_SCHEDULE_TZ): a customer billed in it already is skipped",
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
class OidcSettings(DeclaredSettings):
    """An OpenID Connect issuer whose JWTs the HTTP functions take as bearer tokens, beside
    the named tokens and BILLING_TOKEN (docs/security.md, "OpenID Connect")."""

    oidc_issuer: str | None = setting(
        None,
        "OIDC_ISSUER",
        doc="the issuer whose JWTs are taken (its `iss`, such as"
        " `https://sso.example.com/realms/billing`); set, both HTTP functions want a bearer"
        " token and need OIDC_AUDIENCE; unset: no JWT is taken",
    )
    oidc_audience: str | None = setting(
        None,
        "OIDC_AUDIENCE",
        doc="what a JWT's `aud` must name (one of its values): the client id the issuer gives"
        " these functions",
    )
    oidc_role_claim: str | None = setting(
        None,
        "OIDC_ROLE_CLAIM",
        doc="the claim holding the caller's role, a string or a list of strings; a dotted"
        " path reaches inside an object (`realm_access.roles`, Keycloak's), `cognito:groups`"
        " is Cognito's; the highest value naming a role is taken; unset or empty: `roles`",
    )
    oidc_role_prefix: str = setting(
        "",
        "OIDC_ROLE_PREFIX",
        doc="what a value of the role claim starts with before the role's name (`billing-`:"
        " `billing-operator` is an operator); values without it are ignored",
    )
    oidc_jwks_url: str | None = setting(
        None,
        "OIDC_JWKS_URL",
        doc="where the issuer publishes its keys; unset: the `jwks_uri` of"
        " `{OIDC_ISSUER}/.well-known/openid-configuration`",
    )

    @property
    def role_claim(self) -> str:
        return self.oidc_role_claim or "roles"

    def _check_together(self) -> None:
        super()._check_together()
        if self.oidc_issuer and not self.oidc_audience:
            raise ConfigurationError(
                f"OIDC_ISSUER={self.oidc_issuer!r} needs OIDC_AUDIENCE: set it to the client id"
                " the issuer puts in the `aud` of the tokens meant for these functions"
            )
        if not self.oidc_issuer and (self.oidc_audience or self.oidc_jwks_url):
            raise ConfigurationError(
                "OIDC_AUDIENCE and OIDC_JWKS_URL are read only with OIDC_ISSUER: set it to the"
                " issuer (its `iss`), or unset them"
            )
