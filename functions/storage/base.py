"""The persistence layer the functions see: domain types and small abstract stores.

How each is kept (keys, JSON shapes) is the implementation's business: ``s3.py``,
``records.py``, ``bucket.py``.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from functions.access import Role
from functions.storage import keys
from functions.wire.identifiers import WorkflowId
from functions.wire.messages import Customer

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Job:
    """A bill-generation workflow waiting for the CRM's answer to its question.

    A job waits from its first question until it has a bill or a failure: its bill is its
    completion, and a failure is kept as a record of its own. ``attempts`` is how many
    questions were asked when the job was read: asking again writes question
    ``attempts + 1`` unless someone did already.
    """

    workflow_id: WorkflowId
    customer_id: str
    created_at: str
    asked_at: str
    attempts: int = 1
    # The traceparent of the hop that asked first, as the runtime gave it (None untraced):
    # a question asked again continues the workflow's trace.
    trace: str | None = None
    # The run its lineage began with, whose folder holds the lineage's bills (a retry's
    # job); None: its own run's folder.
    lineage: str | None = None
    # The billing period its run bills, whose folder holds the customer's one bill of it;
    # None: the lineage's folder.
    period: str | None = None

    @property
    def last_asked(self) -> datetime:
        return datetime.fromisoformat(self.asked_at)

    @property
    def created(self) -> datetime:
        return datetime.fromisoformat(self.created_at)

    @property
    def bills_folder(self) -> str | None:
        """Where its bill goes when not under its own run: its period, or its lineage's."""
        return self.period or self.lineage

    @property
    def bill_name(self) -> str:
        """The name its bill has, or will have: under its period, or its lineage's first run."""
        return keys.bill_name(self.customer_id, self.workflow_id, self.bills_folder)

    def asked_again(self, at: str) -> Job:
        return replace(self, attempts=self.attempts + 1, asked_at=at)


CANCELLED = "cancelled"  # the reason of every job a cancel ended


@dataclass(frozen=True)
class Failure:
    """Why a job ended without a bill."""

    workflow_id: WorkflowId
    customer_id: str
    reason: str
    failed_at: str


class BatchScoped(Protocol):
    """A store a function uses a batch of records at a time (``runtime/triggers.py``)."""

    def batch(self) -> contextlib.AbstractContextManager[Callable[[], None]]:
        """Within it, the store may hold writes, to be made by the function it gives (before
        the batch's outputs leave) or as the block ends well, and keep what it read."""
        ...


class JobBatchWriter(abc.ABC):
    """engine-start's: keeps new jobs as waiting, a batch of them in one write."""

    @abc.abstractmethod
    def create(self, job: Job) -> None:
        """Keep ``job`` as waiting (within ``batch``, once the batch ends well). A workflow
        created twice waits once: the first job is the one an answer finds."""

    @contextlib.contextmanager
    def batch(self) -> Iterator[Callable[[], None]]:
        """Within it, ``create`` may wait to be done, together: by the function it gives,
        or when the block ends well. Meant for one batch at a time, whose outputs are
        produced only after its jobs are written."""
        yield lambda: None


class AnswerJobFinder(abc.ABC):
    """engine-complete's: the waiting job an answer is for."""

    @abc.abstractmethod
    def find(self, workflow_id: WorkflowId, customer_id: str | None = None) -> Job | None:
        """The job waiting for this workflow's answer (the one for ``customer_id`` if the
        id was reused), or None once it is closed here, or was never ours. A job another
        process failed may still be returned: see ``JobFailures.get``."""

    @abc.abstractmethod
    def close(self, workflow_id: WorkflowId) -> None:
        """The job is billed or failed: no answer finds it here any more."""


class JobFailures(abc.ABC):
    """Why jobs ended without a bill: written by engine-complete and the sweep, read by
    engine-complete (a late answer) and a run's progress."""

    @abc.abstractmethod
    def record(self, job: Job, reason: str, at: str) -> None:
        """Record why the job ended without a bill (the first reason stays); it waits no
        more, and its questions asked again are cleared away. A job of a billing period
        is also its customer's latest failure in the period (``in_period``)."""

    @abc.abstractmethod
    def get(self, workflow_id: WorkflowId) -> Failure | None: ...

    def get_all(self, workflow_ids: Sequence[WorkflowId]) -> list[Failure | None]:
        """``get`` of each, in order (a store may read them a few at a time)."""
        return [self.get(workflow_id) for workflow_id in workflow_ids]

    @abc.abstractmethod
    def exists(self, workflow_id: WorkflowId) -> bool: ...

    @abc.abstractmethod
    def workflow_keys(self, workflow_prefix: str) -> set[str]:
        """The keys (``WorkflowId.key``) of the failed jobs whose key has the prefix."""

    @abc.abstractmethod
    def failed_in_period(self, period: str) -> set[str]:
        """The customers (as they stand in keys) a workflow of the period failed: a
        request per 1,000."""

    @abc.abstractmethod
    def in_period(self, period: str, customer_ids: Sequence[str]) -> list[Failure | None]:
        """Each customer's latest failure in the period, or None: a read each."""


class OverdueJobSweep(abc.ABC):
    """retry-unanswered's: the jobs still waiting, and asking their question again."""

    @abc.abstractmethod
    def waiting(self, asked_before: datetime) -> Iterator[Job]:
        """The jobs still waiting whose question was last asked before ``asked_before``;
        what no longer waits may be cleared away meanwhile."""

    @abc.abstractmethod
    def ask_again(self, job: Job) -> bool:
        """Record question ``job.attempts`` (read with one fewer); False if another sweep
        recorded it first or the job no longer waits."""


class RunProgress(abc.ABC):
    """The coordinator's: which of a run's workflows asked their question."""

    @abc.abstractmethod
    def asked_keys(self, run_id: str) -> set[str]:
        """The keys (``WorkflowId.key``) of the run's workflows whose question was asked
        and whose job is still kept (it may have a bill or a failure since)."""

    @abc.abstractmethod
    def any_waiting(self, run_id: str) -> bool:
        """Whether a job of the run is kept as waiting (or was, and is not cleared away
        yet): one listing."""


@dataclass(frozen=True)
class StoredBill:
    name: str
    size: int
    modified: datetime


class BillStore(abc.ABC):
    @abc.abstractmethod
    def create(self, name: str, text: str, workflow_id: WorkflowId, billed_at: str) -> bool:
        """Write a new bill; False, and nothing written, if ``name`` already exists."""

    @abc.abstractmethod
    def billed_at(self, name: str) -> str | None:
        """When the bill was written, or None if there is no such bill."""

    @abc.abstractmethod
    def writer(self, name: str) -> str | None:
        """The workflow (as it stands in keys) that wrote the bill, or None if none did."""

    @abc.abstractmethod
    def text(self, name: str) -> str | None:
        """The bill's text, or None if there is no such bill."""

    @abc.abstractmethod
    def listing(self, prefix: str = "") -> Iterator[StoredBill]:
        """The bills whose names start with ``prefix``, in name order."""

    def names(self, prefix: str = "") -> Iterator[str]:
        return (bill.name for bill in self.listing(prefix))

    def existing(self, names: Collection[str]) -> set[str]:
        """Which of the bills ``names`` (of one folder) exist."""
        return {name for name in names if self.billed_at(name) is not None}

    def writers(self, names: Sequence[str]) -> list[str | None]:
        """The workflow that wrote each bill, in order: None where there is no bill, ""
        where one is and names none."""
        return [None if self.billed_at(name) is None else self.writer(name) or "" for name in names]


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing; ``next_after`` is the cursor of the next, None on the last."""

    items: list[T]
    next_after: str | None


class CustomerStore(abc.ABC):
    """The CRM's customers, listed in id order: shorter ids first, then alphabetically, so
    numeric ids come as numbers do (9 before 10)."""

    @abc.abstractmethod
    def get(self, customer_id: str) -> Customer | None: ...

    @abc.abstractmethod
    def page(self, after: str, limit: int) -> Page[Customer]:
        """Up to ``limit`` customers after the id ``after`` ("" for the first page), at a
        cost of the page, not of the CRM."""

    @abc.abstractmethod
    def id_page(self, after: str, limit: int) -> Page[str]:
        """The same, ids only: one request per 1,000 ids."""

    @abc.abstractmethod
    def search(self, name_start: str, after: str, limit: int) -> Page[Customer]:
        """Up to ``limit`` customers with a word of their first or last name starting with
        ``name_start`` (any case), after the cursor ``after`` ("" for the first page)."""

    @abc.abstractmethod
    def index_names(self, customer: Customer) -> None:
        """Make the customer findable by the words of its names (``search``)."""

    @abc.abstractmethod
    def add(self, customer: Customer) -> bool:
        """Store a customer unless its id is taken by another; False if it was (True if the
        id holds this very customer: an earlier try, or a create whose answer was lost)."""

    @abc.abstractmethod
    def add_new(self, customers: Sequence[Callable[[str], Customer]]) -> list[Customer]:
        """Store new customers, each under an id no one else is given (``customers`` make
        one from its id); them as stored, in order."""

    @abc.abstractmethod
    def import_ids(
        self, import_digest: str, count: int, given_ids: Sequence[str]
    ) -> tuple[list[str], bool]:
        """The ids of an import's ``count`` new customers, above the numeric ones among its
        ``given_ids``, fixed by its first try (a create that never overwrites) so that every
        try writes the same; and whether an earlier try fixed them."""

    @abc.abstractmethod
    def add_as_planned(self, customers: Sequence[Customer]) -> list[bool]:
        """Store each customer unless its id is taken; True for each now stored as given,
        by this call or an earlier try; False for an id that holds another customer."""

    @abc.abstractmethod
    def put_all(self, customers: Sequence[Customer]) -> None:
        """Store the customers, each replacing the one with its id; numeric ids among them
        are never given to a new customer afterwards."""

    @abc.abstractmethod
    def put(self, customer: Customer) -> None:
        """Store a customer, replacing the one with the same id."""

    def seed(self, customers: Iterable[Customer]) -> int:
        """Add the customers whose ids are free; return how many were added."""
        return sum(self.get(c.customer_id) is None and self.add(c) for c in customers)


@dataclass(frozen=True)
class StoredToken:
    """A named token as kept: its name, its role, the SHA-256 of the token (in hex; the
    token itself is never kept), when and by whom it was made, and, once revoked, when and
    by whom. A name is never given to another token: a revoked one keeps it, so that what
    names it (a log line, later an audit record) stays about one token."""

    name: str
    role: Role
    digest: str
    created_at: str
    created_by: str | None = None
    revoked_at: str | None = None
    revoked_by: str | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


class TokenStore(Protocol):
    """The named tokens, one record a name (the coordinator's token operations write them;
    every HTTP function reads them through a cache, ``runtime/auth.py``)."""

    def create(self, token: StoredToken) -> bool:
        """Keep a new token under its name, once: False, and nothing written, if the name
        is taken (by a token revoked or not). Of two creates of one name, one is kept."""
        ...

    def get(self, name: str) -> StoredToken | None: ...

    def revoke(self, name: str, at: str, by: str | None) -> tuple[StoredToken, bool] | None:
        """Revoke the token (a token revoked already keeps its first time and caller): the
        token as now kept, and whether this call revoked it (not an earlier nor a
        concurrent one); None if there is no such name."""
        ...

    def page(self, after: str, limit: int) -> Page[StoredToken]:
        """Up to ``limit`` tokens whose names sort after ``after`` ("" for the first page),
        in name order."""
        ...

    def every(self) -> list[StoredToken]:
        """Every token, revoked or not, in name order: what a function's cache holds."""
        ...
