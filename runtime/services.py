"""The composition root: the clients, stores and collaborators one process needs, built
once, lazily, for the role it plays (the function it runs: ``coordinator``, ``engine-start``,
``bill-on-schedule``...). Every entry point (functions-framework, the runtime, Lambda)
builds a ``Services`` for its role and takes what it needs from it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from email.utils import parsedate_to_datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

import boto3
import botocore.session
from botocore import handlers
from botocore.config import Config
from botocore.utils import parse_timestamp

from functions.context import AnswerPolicy, FunctionContext, utc_now
from functions.crm.customer_file import seed_customers
from functions.errors import ConfigurationError
from functions.runs.scheduled_billing import ScheduledBilling
from functions.runs.starter import Coordination
from functions.runs.status import RunRecords
from functions.storage import CustomerStore, RunStore, TickPlans
from functions.storage.audit_log import AuditLog
from functions.storage.base import TokenStore
from functions.storage.bucket import Bucket
from functions.storage.objects import Objects
from functions.storage.s3 import S3BillStore, S3RunCancellations, S3RunStore, S3TickPlans
from functions.storage.s3_audit import S3AuditLog
from functions.storage.s3_customers import S3CustomerStore
from functions.storage.s3_failures import S3JobFailures
from functions.storage.s3_job_finder import S3AnswerJobFinder
from functions.storage.s3_job_writer import S3JobBatchWriter
from functions.storage.s3_run_progress import S3RunProgress
from functions.storage.s3_sweep import S3OverdueJobSweep
from functions.storage.s3_tokens import S3TokenStore
from functions.tokens.api import TokenAdmin
from runtime import tracing
from runtime.auditing import Auditor
from runtime.auth import Authenticator, TokenCache
from runtime.config import FunctionSettings, S3Settings
from runtime.config.tuning import S3_ATTEMPTS, S3_CONNECT_TIMEOUT_S, S3_READ_TIMEOUT_S
from runtime.metrics import count_s3_requests
from runtime.ports import Backlog, Publisher

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from runtime.oidc import JwtVerifier
    from runtime.triggers import Trigger

log = logging.getLogger(__name__)


def s3_timestamp(value: str | float) -> datetime:
    """A time as S3 sends it: an HTTP date in headers (``Last-Modified``), ISO 8601 in
    listings. The standard library parses both; botocore's default, dateutil's parser for
    any form, spent a quarter of a GET's client CPU here. Other forms go to botocore's."""
    if isinstance(value, str):
        try:
            iso = value[:4].isdigit()  # 2026-11-29T17:02:25.000Z, not Sun, 29 Nov 2026 ...
            parsed = datetime.fromisoformat(value) if iso else parsedate_to_datetime(value)
        except (TypeError, ValueError):
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return parsed
    return cast("datetime", parse_timestamp(value))


def s3_client(settings: S3Settings, connections: int = 10) -> S3Client:
    """A boto3 client of the S3 server ``settings`` name, with ``connections`` in its pool."""
    core = botocore.session.get_session()
    parsers = core.get_component("response_parser_factory")
    parsers.set_parser_defaults(timestamp_parser=s3_timestamp)
    session = boto3.session.Session(botocore_session=core)
    local_server = settings.s3_endpoint_url is not None
    keys = {}
    if local_server and session.get_credentials() is None:
        key, secret = settings.local_s3_keys()
        keys = {"aws_access_key_id": key, "aws_secret_access_key": secret}
    # Loopback needs no payload checksums: both ends spend a fifth of a PUT on them.
    checksums = "when_required" if local_server else "when_supported"
    client = session.client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        region_name=settings.aws_region,
        config=Config(
            retries={"max_attempts": S3_ATTEMPTS, "mode": "standard"},
            max_pool_connections=connections,
            connect_timeout=S3_CONNECT_TIMEOUT_S,
            read_timeout=S3_READ_TIMEOUT_S,
            s3={"addressing_style": "path"},
            request_checksum_calculation=checksums,
            response_checksum_validation=checksums,
        ),
        **keys,
    )
    # botocore sends every PutObject body as `Expect: 100-continue`, so each PUT waits a
    # round trip for the server's go-ahead before sending the body: two round trips per
    # write on a cloud store. Ours are small; the go-ahead buys nothing.
    client.meta.events.unregister("before-call.s3", handlers.add_expect_header)
    count_s3_requests(client)
    tracing.trace_s3_requests(client)
    return cast("S3Client", client)


class Services:
    """What the process of ``role`` needs, built from ``settings`` when first used; ``role``
    names what it publishes (its transactions, its messages' source). ``s3``,
    ``publisher``, ``backlog``, ``clock`` and ``ticks`` may be given instead (a test's moto
    client, a recording publisher, a fixed backlog, a fixed time, a monotonic clock of its
    own for the token cache). ``buckets`` makes the stores' buckets by name instead of S3
    (``functions.storage.memory_bucket.MemoryBuckets``: the buckets in memory); without,
    each is an S3 ``Bucket`` through ``s3``."""

    def __init__(
        self,
        settings: FunctionSettings,
        *,
        role: str = "coordinator",
        s3: S3Client | None = None,
        buckets: Callable[[str], Objects] | None = None,
        publisher: Publisher | None = None,
        backlog: Backlog | None = None,
        clock: Callable[[], datetime] = utc_now,
        ticks: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.role = role
        self._s3 = s3
        self._buckets = buckets
        self._publisher = publisher
        self._backlog = backlog
        self._clock = clock
        self._ticks = ticks
        self._seed_lock = threading.Lock()
        self._seeded = False
        self._built: list[Callable[[], None]] = []  # what ``close`` closes

    @cached_property
    def s3(self) -> S3Client:
        # One connection for each record in flight, and a few for the HTTP functions.
        return self._s3 or s3_client(self.settings, max(10, self.settings.max_in_flight))

    @cached_property
    def context(self) -> FunctionContext:
        settings = self.settings
        jobs, bills = self.bucket(settings.jobs_bucket), self.bucket(settings.bills_bucket)
        failures = S3JobFailures(jobs)
        return FunctionContext(
            new_jobs=S3JobBatchWriter(jobs),
            answer_jobs=S3AnswerJobFinder(jobs),
            sweep=S3OverdueJobSweep(jobs, bills, failures),
            failures=failures,
            cancellations=S3RunCancellations(jobs, settings.cancel_check_s),
            bills=S3BillStore(bills),
            customers=S3CustomerStore(self.bucket(settings.customers_bucket)),
            answers=AnswerPolicy(
                timeout_s=settings.answer_timeout_s,
                backoff=settings.answer_backoff,
                max_attempts=settings.answer_attempts,
            ),
            trace=tracing.workflow_root,
            clock=self._clock,
        )

    def bucket(self, name: str) -> Objects:
        """The bucket ``name`` of the stores: the one ``buckets`` makes, or S3's."""
        if self._buckets is not None:
            return self._buckets(name)
        return Bucket(self.s3, name)

    @cached_property
    def runs(self) -> RunStore:
        return S3RunStore(self.bucket(self.settings.jobs_bucket))

    @cached_property
    def tick_plans(self) -> TickPlans:
        """Which customers each tick of the billing schedule bills."""
        return S3TickPlans(self.bucket(self.settings.jobs_bucket))

    @cached_property
    def run_records(self) -> RunRecords:
        """What the coordinator reads a run and its progress from."""
        context = self.context
        return RunRecords(
            runs=self.runs,
            progress=S3RunProgress(self.bucket(self.settings.jobs_bucket)),
            failures=context.failures,
            bills=context.bills,
            cancellations=context.cancellations,
            customers=context.customers,
        )

    @cached_property
    def tokens(self) -> TokenStore | None:
        """The named tokens (``TOKENS_BUCKET``), or None if the function keeps none."""
        name = self.settings.tokens_bucket
        return S3TokenStore(self.bucket(name)) if name else None

    @cached_property
    def jwt_verifier(self) -> JwtVerifier | None:
        """The check of an OpenID Connect issuer's JWTs (OIDC_ISSUER), or None if unset."""
        settings = self.settings
        if not settings.oidc_issuer or not settings.oidc_audience:
            return None
        # Imported only here: joserfc costs a process that takes no JWT 60 ms at start.
        from runtime.oidc import JwksKeys, JwtVerifier

        return JwtVerifier(
            settings.oidc_issuer,
            settings.oidc_audience,
            settings.role_claim,
            JwksKeys(settings.oidc_issuer, settings.oidc_jwks_url, clock=self._ticks),
            role_prefix=settings.oidc_role_prefix,
        )

    @cached_property
    def authenticator(self) -> Authenticator:
        """The check of a request's bearer token: BILLING_TOKEN's, the named tokens' (read
        at most every 25 s), the OpenID Connect issuer's JWTs; none set, none."""
        store = self.tokens
        cache = None if store is None else TokenCache(store, clock=self._ticks)
        return Authenticator(self.settings.token, cache, self.jwt_verifier)

    @cached_property
    def audit_log(self) -> AuditLog | None:
        """The audit trail, beside the named tokens (``TOKENS_BUCKET``); None without."""
        name = self.settings.tokens_bucket
        return S3AuditLog(self.bucket(name)) if name else None

    @cached_property
    def auditor(self) -> Auditor | None:
        """What records each state-changing request; None where no audit is kept."""
        audit = self.audit_log
        if audit is None:
            return None
        return Auditor(audit, self._clock, secrets=lambda: self.settings.secrets())

    @cached_property
    def token_admin(self) -> TokenAdmin:
        """What the token operations are given; a change is seen here at once."""
        cache = self.authenticator.tokens
        return TokenAdmin(self.tokens, self._clock, cache.forget if cache else lambda: None)

    @cached_property
    def publisher(self) -> Publisher:
        """Publishes as ``role``: one Kafka transaction a batch."""
        if self._publisher is not None:
            return self._publisher
        from runtime.kafka.publisher import KafkaPublisher

        publisher = KafkaPublisher(self.settings, role=self.role)
        self._built.append(publisher.close)
        return publisher

    @cached_property
    def backlog(self) -> Backlog:
        """Whether the CRM's and engine-complete's groups are working through a backlog."""
        if self._backlog is not None:
            return self._backlog
        from runtime.kafka.backlog import Backlog as KafkaBacklog
        from runtime.triggers import answering_groups

        backlog = KafkaBacklog(self.settings, answering_groups(self.settings))
        self._built.append(backlog.close)
        return backlog

    @cached_property
    def coordination(self) -> Coordination:
        """What starts runs, the coordinator's and the schedule's: published whole, recorded."""
        return Coordination(self.publisher.publish, self.run_records)

    @cached_property
    def scheduled_billing(self) -> ScheduledBilling:
        """The schedule, and what its ticks start runs with and of."""
        schedule = self.settings.schedule()
        if schedule is None:
            raise ConfigurationError(
                f"{self.role} needs BILLING_SCHEDULE, a cron expression such as '0 6 1 * *'"
            )
        return ScheduledBilling(
            schedule,
            self.coordination,
            self.seeded_customers(),
            self.tick_plans,
            period_length=self.settings.billing_period,
        )

    def close(self) -> None:
        """Let go of the Kafka clients this built (a stopping process's last step)."""
        while self._built:
            self._built.pop()()

    def context_for(self, trigger: Trigger[Any]) -> FunctionContext:
        """What ``trigger``'s function is given: the customers seeded first if it reads them."""
        if trigger.reads_customers:
            self.seeded_customers()
        return self.context

    def seeded_customers(self) -> CustomerStore:
        """The CRM's store, seeded from the lab's customer file on first use."""
        with self._seed_lock:
            if not self._seeded:
                added = self.context.customers.seed(seed_customers())
                if added:
                    log.info("seeded %d customer(s) from the lab's customer file", added)
                self._seeded = True
        return self.context.customers
