"""A whole billing system in one process, for the model-based test of the operator actions
(``test_operator_model.py``): both HTTP functions as the runtime serves them, the three
Kafka-triggered functions and the sweep fed from in-memory topics that deliver at least
once, the billing schedule, and storage and Kafka writes that fail when told to.

The buckets are in memory (``FaultyBuckets``: ``MemoryBucket``s whose n-th write fails as
``Bucket`` fails when S3 cannot be reached), or on moto through the S3 adapter
(``S3Faults``: the n-th S3 write request fails before it is sent). Both count the same
writes: a put (a create or an overwrite), a delete, and a ``delete_many`` of up to 1,000
keys, one ``DeleteObjects`` request on S3.

Everything runs on the caller's thread, so a fault armed for "the n-th write from now"
hits the same write on every replay of an example: hypothesis shrinks only what it can
replay.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from functions.context import FunctionContext, iso_millis
from functions.errors import StorageUnavailable
from functions.http.web import HttpRequest, HttpResponse
from functions.runs.schedule import BillingSchedule
from functions.runs.scheduled_billing import ScheduledBilling
from functions.runs.starter import Coordination
from functions.runs.status import new_run_id, plan
from functions.storage import Cancellation, IdempotencyRecord, Run, RunCancellations, keys
from functions.storage.memory_bucket import MemoryBuckets
from functions.triggered.retry_unanswered import Tick, retry_unanswered
from functions.wire.messages import Outgoing, Stream, WireMessage
from runtime.config import FunctionSettings
from runtime.http_function import HttpFunction
from runtime.services import Services
from runtime.triggers import BY_FUNCTION, Trigger
from tests.unit.operator_faults import (
    FaultyBuckets,
    FlakyPublisher,
    S3Faults,
    WriteFaults,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

START = datetime(2026, 12, 1, 5, 58, 30, tzinfo=UTC)


def model_settings(tag: str) -> FunctionSettings:
    """The settings of a model's system: its buckets named by ``tag``, the tokens bucket
    holding its actors' tokens and the audit trail; a question asked twice at most."""
    return replace(
        FunctionSettings(s3_endpoint_url=None, cancel_check_s=0),
        bills_bucket=f"bills-{tag}",
        jobs_bucket=f"jobs-{tag}",
        customers_bucket=f"crm-{tag}",
        tokens_bucket=f"tokens-{tag}",
        answer_timeout_s=30,
        answer_attempts=2,
    )


class Stored:
    """What a bucket holds, read past the faults: from the memory bucket itself, or from
    moto's backend directly. The model's checks make no request (and so meet no fault,
    and cost the tier little)."""

    def __init__(self, bucket: str, memory: MemoryBuckets | None = None) -> None:
        self._memory = None if memory is None else memory(bucket)
        if self._memory is None:
            from moto.core.models import DEFAULT_ACCOUNT_ID
            from moto.s3.models import s3_backends

            self._moto = s3_backends[DEFAULT_ACCOUNT_ID]["aws"].buckets[bucket]

    def names(self, prefix: str = "") -> list[str]:
        if self._memory is not None:
            return list(self._memory.names(prefix))
        return sorted(name for name in self._moto.keys if name.startswith(prefix))

    def json(self, name: str) -> Any:
        if self._memory is not None:
            body = self._memory.get_bytes(name)
            assert body is not None, f"{name} is not in {self._memory.name}"
            return json.loads(body)
        return json.loads(self._moto.keys[name].value)

    def metadata(self, name: str, field: str) -> str:
        if self._memory is not None:
            found = self._memory.metadata(name)
            assert found is not None, f"{name} is not in {self._memory.name}"
            return found[field]
        value: str = self._moto.keys[name].metadata[f"x-amz-meta-{field}"]
        return value


class CancelsSeenEarlier(RunCancellations):
    """What a batch that read the cancels before the latest ones sees: the runs cancelled
    as of its reading (their keys); a cancel it makes itself is real."""

    def __init__(self, live: RunCancellations, seen: frozenset[str]) -> None:
        self.live, self.seen = live, seen

    def cancel(self, run_id: str, at: str, by: str | None = None) -> tuple[Cancellation, bool]:
        return self.live.cancel(run_id, at, by)

    def cancellation(self, run_id: str) -> Cancellation | None:
        return self.live.cancellation(run_id)

    def is_cancelled(self, run_id: str) -> bool:
        return keys.cancellation(run_id) in self.seen


@dataclass
class Topic:
    """A topic and one consumer group's place in it: what is before ``read`` was done."""

    messages: list[WireMessage] = field(default_factory=list)
    read: int = 0

    @property
    def waiting(self) -> int:
        return len(self.messages) - self.read


class World:
    """The system under test, its buckets in memory, or on moto given ``s3``; ``now`` is
    every function's clock."""

    def __init__(
        self, settings: FunctionSettings, schedule_page: int, s3: S3Client | None = None
    ) -> None:
        self.now = START
        self.s3 = s3
        self.publisher = FlakyPublisher()
        self.faults: WriteFaults
        self.memory: MemoryBuckets | None = None
        if s3 is None:
            buckets = FaultyBuckets()
            self.faults, self.memory = buckets.faults, buckets.memory
            self.services = Services(settings, buckets=buckets, publisher=self.publisher)
        else:
            self.faults = s3_faults = S3Faults()
            s3_faults.install(s3)
            self.services = Services(settings, s3=s3, publisher=self.publisher)
        self.coordinator = HttpFunction("coordinator", lambda: self.services)
        self.crm = HttpFunction("crm", lambda: self.services)
        self.topics = {stream: Topic() for stream in Stream}
        self.cancels_seen: frozenset[str] = frozenset()
        self.schedule = BillingSchedule.parse("* * * * *", "UTC", 86_400)
        self.schedule_page = schedule_page
        self.headers: dict[str, str] = {}  # every request's, unless it says otherwise

    def close(self) -> None:
        if isinstance(self.faults, S3Faults) and self.s3 is not None:
            self.faults.uninstall(self.s3)

    def stored(self, bucket: str) -> Stored:
        """What ``bucket`` holds, read past the faults."""
        return Stored(bucket, self.memory)

    @property
    def context(self) -> FunctionContext:
        return replace(self.services.context, clock=lambda: self.now)

    # -- HTTP ------------------------------------------------------------------------

    def call(
        self,
        function: str,
        method: str,
        path: str,
        body: bytes = b"",
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> HttpResponse[Any]:
        given = {"content-type": "application/json", **self.headers, **(headers or {})}
        head = HttpRequest(method, path, query or {}, headers=given)
        http = self.coordinator if function == "coordinator" else self.crm
        return http(head, lambda: body)

    # -- Kafka -----------------------------------------------------------------------

    def sync_published(self) -> None:
        """What the coordinator published is on ``workflow-queue``."""
        topic = self.topics[Stream.WORKFLOWS]
        published = [o.message for o in self.publisher.published]
        topic.messages.extend(published[len(topic.messages) :])

    def deliver(self, stream: Stream, count: int, stale: bool = False) -> None:
        """The next ``count`` records of ``stream`` to its function, as one batch that
        commits only if every record is done; ``stale``: a batch that read the cancels
        before the latest. One that S3 failed comes again."""
        self.sync_published()
        topic = self.topics[stream]
        batch = topic.messages[topic.read : topic.read + count]
        if batch and self.process(stream, batch, stale):
            topic.read += len(batch)

    def redeliver(self, stream: Stream, index: int, stale: bool = False) -> None:
        """A record done before, delivered again (at least once)."""
        topic = self.topics[stream]
        if topic.read:
            self.process(stream, [topic.messages[index % topic.read]], stale)

    def process(self, stream: Stream, batch: Sequence[WireMessage], stale: bool) -> bool:
        trigger: Trigger[Any] = next(t for t in BY_FUNCTION.values() if t.source is stream)
        context = self.context
        if stale:
            seen = CancelsSeenEarlier(context.cancellations, self.cancels_seen)
            context = replace(context, cancellations=seen)
        outputs: list[Outgoing] = []
        try:
            with ExitStack() as scopes:
                held = [scopes.enter_context(store.batch()) for store in trigger.per_batch(context)]
                for message in batch:
                    outputs.extend(trigger.handler(message, context))
                for write_held in held:
                    write_held()
        except StorageUnavailable:
            return False
        for output in outputs:
            self.topics[output.stream].messages.append(output.message)
        return True

    def look_at_cancels(self) -> None:
        """A batch starting now reads which runs are cancelled."""
        self.cancels_seen = frozenset(
            self.stored(self.services.settings.jobs_bucket).names(keys.CANCELLED)
        )

    def sweep(self, minutes: float) -> None:
        """``retry-unanswered`` ``minutes`` later; one that S3 failed does nothing."""
        self.now += timedelta(minutes=minutes)
        try:
            questions = retry_unanswered(Tick(self.now), self.context)
        except StorageUnavailable:
            return
        self.topics[Stream.QUESTIONS].messages.extend(q.message for q in questions)

    def drain(self) -> None:
        """Every record delivered, until no function has anything left to read."""
        while any(self.topics[s].waiting for s in Stream) or self._unsynced():
            for stream in Stream:
                self.deliver(stream, 1_000)

    def _unsynced(self) -> bool:
        return len(self.publisher.published) > len(self.topics[Stream.WORKFLOWS].messages)

    # -- the schedule ----------------------------------------------------------------

    def scheduled_billing(self) -> ScheduledBilling:
        coordination = Coordination(self.publisher.publish, self.services.run_records)
        return ScheduledBilling(
            self.schedule,
            coordination,
            self.services.context.customers,
            self.services.tick_plans,
            self.schedule_page,
            period_length="day",  # so that a few ticks cross a period's end
        )

    def earlier_version_began(self, tick: str) -> None:
        """What a version before the tick plans left of a tick it stopped in after its
        first page: the page's run claimed as ``schedule:<tick>:0``, kept and published."""
        first = self.services.context.customers.id_page("", self.schedule_page).items
        runs = self.services.run_records.runs
        run = Run(new_run_id(), iso_millis(self.now), tuple(first), scheduled_for=tick)
        with self.faults_off():
            runs.claim(f"schedule:{tick}:0", IdempotencyRecord(run.run_id, "earlier"))
            runs.list_run(run.run_id)  # as that version did, at the run's first save
            runs.save(run)
            self.publisher.publish([Outgoing(Stream.WORKFLOWS, w) for w in plan(run).workflows])
            runs.save(replace(run, published=True))

    @contextmanager
    def faults_off(self) -> Iterator[None]:
        countdown, refuse = self.faults.countdown, self.publisher.refuse
        self.faults.disarm()
        self.publisher.refuse = 0
        try:
            yield
        finally:
            self.faults.countdown, self.publisher.refuse = countdown, refuse
