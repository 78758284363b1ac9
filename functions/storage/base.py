"""The persistence layer the functions see: three small abstract stores."""

from __future__ import annotations

import abc
import enum
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from functions.messages import Customer, WorkflowId


class JobStatus(enum.StrEnum):
    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass(frozen=True)
class Job:
    """A bill-generation workflow: pending from its question until it is billed or failed.

    ``version`` is the stored object's version when the job was read; an update is
    written only if the job has not changed since, so two writers never undo each other.
    """

    workflow_id: WorkflowId
    customer_id: str
    status: JobStatus
    created_at: str
    bill_name: str | None = None
    failure: str | None = None
    version: str | None = field(default=None, compare=False, repr=False)

    def completed(self, bill_name: str) -> Job:
        return replace(self, status=JobStatus.COMPLETED, bill_name=bill_name, failure=None)

    def failed(self, reason: str) -> Job:
        return replace(self, status=JobStatus.FAILED, failure=reason)

    def to_json(self) -> dict[str, Any]:
        return {
            "workflowId": self.workflow_id.wire,
            "customerId": self.customer_id,
            "status": self.status.value,
            "createdAt": self.created_at,
            "billName": self.bill_name,
            "failure": self.failure,
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Job:
        return cls(
            workflow_id=WorkflowId(obj["workflowId"]),
            customer_id=obj["customerId"],
            status=JobStatus(obj["status"]),
            created_at=obj["createdAt"],
            bill_name=obj.get("billName"),
            failure=obj.get("failure"),
        )


@dataclass(frozen=True)
class Asked:
    """A question that waits for its answer: how often it was asked, and when last."""

    workflow_id: WorkflowId
    attempts: int
    asked_at: datetime


class JobStore(abc.ABC):
    @abc.abstractmethod
    def create(self, job: Job) -> Job:
        """Store ``job`` unless one with its workflow id exists; return the stored job."""

    @abc.abstractmethod
    def get(self, workflow_id: WorkflowId) -> Job | None: ...

    @abc.abstractmethod
    def update(self, job: Job) -> bool:
        """Write ``job`` if the stored one is still at ``job.version``; False if it changed."""

    @abc.abstractmethod
    def ask(self, asked: Asked) -> None:
        """Record that a question waits for its answer (replacing an earlier record)."""

    @abc.abstractmethod
    def answered(self, workflow_id: WorkflowId) -> None:
        """Forget the waiting question of a job that is billed or failed."""

    @abc.abstractmethod
    def unanswered(self, asked_before: datetime) -> Iterator[Asked]:
        """The questions still waiting that were last asked before ``asked_before``."""


@dataclass(frozen=True)
class Run:
    """A billing run as the coordinator planned it; its workflows are ``<run id>-<n>``."""

    run_id: str
    create_time: str
    customer_ids: tuple[str, ...]
    published: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "runId": self.run_id,
            "createTime": self.create_time,
            "customerIdentifiers": list(self.customer_ids),
            "published": self.published,
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Run:
        return cls(
            run_id=obj["runId"],
            create_time=obj["createTime"],
            customer_ids=tuple(obj["customerIdentifiers"]),
            published=bool(obj.get("published")),
        )


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
    def get(self, run_id: str) -> Run | None: ...

    @abc.abstractmethod
    def save(self, run: Run) -> None: ...


class BillStore(abc.ABC):
    @abc.abstractmethod
    def create(self, name: str, text: str) -> bool:
        """Write a new bill; False, and nothing written, if ``name`` already exists."""


class CustomerStore(abc.ABC):
    @abc.abstractmethod
    def get(self, customer_id: str) -> Customer | None: ...

    @abc.abstractmethod
    def all(self) -> list[Customer]: ...

    @abc.abstractmethod
    def numeric_ids(self) -> list[int]:
        """The ids that are whole numbers, without reading the customers themselves."""

    @abc.abstractmethod
    def add(self, customer: Customer) -> bool:
        """Store a customer unless its id is taken; False if it was."""

    @abc.abstractmethod
    def put(self, customer: Customer) -> None:
        """Store a customer, replacing the one with the same id."""

    def seed(self, customers: Iterable[Customer]) -> int:
        """Add the customers whose ids are free; return how many were added."""
        return sum(self.add(customer) for customer in customers)
