"""What the coordinator keeps of a run, abstractly: its record and its summary, the
Idempotency-Key that started it, its retries, its cancel, and the billing schedule's plans
of each tick. ``s3.py`` keeps them on S3; ``base.py`` has the jobs', bills' and customers'.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from functions.storage.base import Page


@dataclass(frozen=True)
class RunSummary:
    """What a run came to once nothing of it is pending: kept, so that a list of runs
    reads one object a finished run."""

    state: str
    counts: Mapping[str, int]


@dataclass(frozen=True)
class Run:
    """A billing run as the coordinator planned it; its workflows are ``<run id>-<n>``, the
    n-th customer's. ``retry_of``: the run whose failed customers it bills again;
    ``scheduled_for``: the tick of the billing schedule that started it;
    ``billing_period``: the period it bills, whose one bill a customer it writes;
    ``billed_before``: its customers billed in the period before it was planned, which get
    no workflow."""

    run_id: str
    create_time: str
    customer_ids: tuple[str, ...]
    published: bool = False
    retry_of: str | None = None
    scheduled_for: str | None = None  # the schedule's tick that started it
    summary: RunSummary | None = None
    # A retry's: the run its lineage began with, under whose folder every bill of the
    # lineage is written, once (docs/guarantees.md).
    lineage: str | None = None
    billing_period: str | None = None
    billed_before: frozenset[str] = frozenset()
    # Who started it: a token's name or a JWT's subject (None: the schedule, or a version
    # before the roles).
    started_by: str | None = None

    @property
    def bills_folder(self) -> str:
        """The folder of this run's bills: its period's, or its lineage's first run's."""
        return self.billing_period or self.lineage or self.run_id


@dataclass(frozen=True)
class RetrySlot:
    """Retry ``number`` of a run (from 1): the run that retries, and the customers it holds.
    Slots are created once each, in order, so no two retries of a run hold one customer."""

    number: int
    run_id: str
    customer_ids: tuple[str, ...]


@dataclass(frozen=True)
class TickPage:
    """Page ``number`` (from 0) of a tick of the billing schedule: the customers its run
    bills, fixed once, where the next page's customers start, and the billing period the
    tick bills (None for a page an earlier version planned)."""

    number: int
    run_id: str
    customer_ids: tuple[str, ...]
    next_after: str | None
    billing_period: str | None = None


@dataclass(frozen=True)
class IdempotencyRecord:
    """Which run an ``Idempotency-Key`` started, and a digest of the request that did."""

    run_id: str
    request_digest: str


class RunStore(abc.ABC):
    @abc.abstractmethod
    def claim(self, idempotency_key: str, record: IdempotencyRecord) -> IdempotencyRecord:
        """Bind the key to ``record`` unless it is bound; return the record it is bound to."""

    @abc.abstractmethod
    def claimed(self, idempotency_key: str) -> IdempotencyRecord | None:
        """The record the key is bound to, if it is."""

    @abc.abstractmethod
    def get(self, run_id: str) -> Run | None: ...

    @abc.abstractmethod
    def save(self, run: Run) -> None:
        """Keep the run."""

    @abc.abstractmethod
    def list_run(self, run_id: str) -> None:
        """Show the run among the ``newest`` (once, whatever is asked after): done once
        Kafka took it, so a run Kafka refused is never listed, and nothing listed is
        ever removed."""

    @abc.abstractmethod
    def newest(self, after: str, started_by: str | None, limit: int) -> Page[str]:
        """Up to ``limit`` run ids, newest first: those after the run ``after`` ("" for the
        first page), started at or before ``started_by`` (``yyyymmddHHMMSS``) if given. One
        listing a page."""

    @abc.abstractmethod
    def retry_slots(self, run_id: str) -> list[RetrySlot]:
        """The run's retries, oldest first: one listing, and a read a retry."""

    @abc.abstractmethod
    def claim_retry_slot(self, run_id: str, slot: RetrySlot) -> bool:
        """Create the slot unless slot ``slot.number`` of the run exists; whether it did."""

    @abc.abstractmethod
    def add_retry(self, run_id: str, retry_id: str) -> None: ...

    @abc.abstractmethod
    def retries(self, run_id: str) -> list[str]:
        """The runs that retried this one's failures, oldest first."""


class TickPlans(abc.ABC):
    """Which customers each tick of the billing schedule bills, a page (a run) at a time,
    each page fixed by the first scheduler to plan it."""

    @abc.abstractmethod
    def page(self, tick: str, number: int) -> TickPage | None: ...

    @abc.abstractmethod
    def plan(self, tick: str, page: TickPage) -> TickPage:
        """Keep ``page`` unless the tick's page of that number is planned; the page kept."""

    @abc.abstractmethod
    def begin(self, tick: str) -> None:
        """The tick is begun: listed among the open ticks until it ``end``s."""

    @abc.abstractmethod
    def end(self, tick: str) -> None:
        """Every page of the tick is published."""

    @abc.abstractmethod
    def open_ticks(self) -> list[str]:
        """The ticks begun and not ended (a page failed, a scheduler stopped): one listing."""


@dataclass(frozen=True)
class Cancellation:
    """When a run was cancelled, and by whom (None: by a version before the roles)."""

    at: str
    by: str | None = None


class RunCancellations(abc.ABC):
    """Which runs were cancelled. Read by the functions a batch at a time (``batch``): a
    run seen cancelled stays so, and a run seen running is looked at again in a later batch."""

    @abc.abstractmethod
    def cancel(self, run_id: str, at: str, by: str | None = None) -> tuple[Cancellation, bool]:
        """Cancel the run unless it is: when and by whom it was cancelled, and whether by
        this call (not an earlier nor a concurrent one)."""

    @abc.abstractmethod
    def cancellation(self, run_id: str) -> Cancellation | None: ...

    @abc.abstractmethod
    def is_cancelled(self, run_id: str) -> bool:
        """Whether the run is cancelled: read once a batch (within ``batch``)."""

    @contextlib.contextmanager
    def batch(self) -> Iterator[Callable[[], None]]:
        yield lambda: None
