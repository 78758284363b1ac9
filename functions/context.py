"""What a Kafka-triggered function may touch besides its message."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from functions.storage import BillStore, CustomerStore, JobStore


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso_millis(moment: datetime) -> str:
    """``2021-03-23T18:21:43.935Z``, the timestamp form of the lab's messages."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class FunctionContext:
    jobs: JobStore
    bills: BillStore
    customers: CustomerStore
    clock: Callable[[], datetime] = field(default=utc_now)
