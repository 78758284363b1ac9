"""What a Kafka-triggered function may touch besides its message."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from functions.storage import (
    AnswerJobFinder,
    BillStore,
    CustomerStore,
    Job,
    JobBatchWriter,
    JobFailures,
    OverdueJobSweep,
    RunCancellations,
)


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso_millis(moment: datetime) -> str:
    """``2021-03-23T18:21:43.935Z``, the timestamp form of the lab's messages."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class AnswerPolicy:
    """How long a question may wait for its answer before it is asked again, and how often.

    The n-th question waits ``timeout_s * backoff ** (n - 1)``; after ``max_attempts``
    questions without an answer the job fails.
    """

    timeout_s: float = 30.0
    backoff: float = 2.0
    max_attempts: int = 5

    def wait_after(self, attempts: int) -> timedelta:
        return timedelta(seconds=self.timeout_s * self.backoff ** max(0, attempts - 1))

    def due(self, job: Job, now: datetime) -> bool:
        return job.last_asked + self.wait_after(job.attempts) <= now

    def may_have_failed(self, job: Job, now: datetime) -> bool:
        """Whether the sweep may have failed ``job`` by ``now``. It asks again only when a
        wait is over and fails the job when the last one is, so never before every wait
        since its first question has passed (half of that here, for two machines' clocks;
        a run's backlog rarely lasts that long, so a bill seldom pays for the check)."""
        return now - job.created >= self.total_wait() / 2

    def total_wait(self) -> timedelta:
        return sum((self.wait_after(n) for n in range(1, self.max_attempts + 1)), timedelta())


@dataclass(frozen=True)
class FunctionContext:
    """The stores, by the role each function has in a job's life: engine-start writes
    ``new_jobs``, engine-complete finds an answer's job in ``answer_jobs``, retry-unanswered
    runs the ``sweep``; either of the last two may record a job's failure. engine-start and
    engine-complete bill nothing of a run the operator cancelled (``cancellations``)."""

    new_jobs: JobBatchWriter
    answer_jobs: AnswerJobFinder
    sweep: OverdueJobSweep
    failures: JobFailures
    cancellations: RunCancellations
    bills: BillStore
    customers: CustomerStore
    clock: Callable[[], datetime] = field(default=utc_now)
    # The runtime's traceparent of the hop being processed, if it traces (runtime/tracing.py).
    trace: Callable[[], str | None] = field(default=lambda: None)
    answers: AnswerPolicy = field(default_factory=AnswerPolicy)
