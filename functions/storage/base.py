"""The persistence layer the functions see: three small abstract stores."""

from __future__ import annotations

import abc
import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from functions.messages import Customer, WorkflowId


class JobStatus(enum.StrEnum):
    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass(frozen=True)
class Job:
    """A bill-generation workflow between its question and its answer."""

    workflow_id: WorkflowId
    customer_id: str
    status: JobStatus
    created_at: str
    bill_name: str | None = None
    failure: str | None = None

    def completed(self, bill_name: str) -> Job:
        return replace(self, status=JobStatus.COMPLETED, bill_name=bill_name)

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


class JobStore(abc.ABC):
    @abc.abstractmethod
    def create(self, job: Job) -> Job:
        """Store ``job`` unless one with its workflow id exists; return the stored job."""

    @abc.abstractmethod
    def get(self, workflow_id: WorkflowId) -> Job | None: ...

    @abc.abstractmethod
    def save(self, job: Job) -> None:
        """Overwrite the stored job with the same workflow id."""


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
