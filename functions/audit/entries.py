"""What the audit keeps of a state-changing request, and the store that keeps it.

A request that may change state (any operation but a read) is recorded before its handler
runs: who asked (a token's name or a JWT's subject, never a credential), with what role,
which operation on what, the request's id and when. Its outcome (the status answered, and
what it made, such as a new run) is recorded once the handler answered. Both are created
once and never overwritten: a record that cannot be written stops the request before
anything is done (503), so nothing is done unrecorded. An outcome that cannot be written
(S3 went away in between, the process stopped) leaves the record without one, and the
listing says so. A request refused for its role is recorded with its refusal at once.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from functions.storage.base import Page

# Records a page of ``GET /audit``: by default, and at most.
DEFAULT_PAGE = 50
MOST_A_PAGE = 100
# A detail kept of an outcome, at most this long: the refusal's reason, not a body.
MAX_DETAIL = 300
# A subject kept of a caller, at most this long (a token's name is 64 at most).
MAX_WHO = 255


@dataclass(frozen=True)
class AuditOutcome:
    """What came of a request: the status answered, whether it repeated an earlier one's
    answer (``Idempotent-Replayed``), the run or other thing it made or changed, and the
    reason it was refused, if it was."""

    status: int
    replayed: bool = False
    runs: tuple[str, ...] = ()
    target: str | None = None
    detail: str | None = None

    @property
    def changed_state(self) -> bool:
        """Whether the request did what it asked (a 2xx that repeated nothing)."""
        return 200 <= self.status < 300 and not self.replayed


@dataclass(frozen=True)
class AuditEntry:
    """One state-changing request: ``entry_id`` sorts newest first and names its records."""

    entry_id: str
    at: str  # ISO 8601, UTC, to the millisecond
    who: str
    role: str
    via: str
    operation: str
    method: str
    path: str
    request_id: str
    runs: tuple[str, ...] = ()  # the runs its path names
    outcome: AuditOutcome | None = None  # None: not recorded (yet)

    @property
    def every_run(self) -> tuple[str, ...]:
        """The runs it names, by its path and by its outcome (a run it started)."""
        made = self.outcome.runs if self.outcome is not None else ()
        return tuple(dict.fromkeys((*self.runs, *made)))


@dataclass(frozen=True)
class AuditQuery:
    """Which records a page shows: newest first, after the record ``after``, about the run
    ``run``, by ``who``, made from ``since`` to ``until``; ``limit`` at most."""

    limit: int
    after: str = ""
    run: str | None = None
    who: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class AuditLog(abc.ABC):
    """The audit trail, written by the runtime around each state-changing request and read
    a page at a time (``GET /audit``)."""

    @abc.abstractmethod
    def begin(self, entry: AuditEntry) -> None:
        """Record a request before it is done (with its outcome, if refused already);
        ``StorageUnavailable`` if it cannot be, and then nothing may be done."""

    @abc.abstractmethod
    def end(self, entry: AuditEntry, outcome: AuditOutcome) -> None:
        """Record what came of a request ``begin`` recorded; ``StorageUnavailable`` if it
        cannot be (the record stays without one)."""

    @abc.abstractmethod
    def page(self, query: AuditQuery) -> Page[AuditEntry]:
        """The records ``query`` asks for, newest first; ``next_after`` for the next page."""


def entry_record(entry: AuditEntry) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": entry.entry_id,
        "at": entry.at,
        "who": entry.who,
        "role": entry.role,
        "via": entry.via,
        "operation": entry.operation,
        "method": entry.method,
        "path": entry.path,
        "requestId": entry.request_id,
        "runs": list(entry.runs),
    }
    if entry.outcome is not None:
        record["outcome"] = outcome_record(entry.outcome)
    return record


def outcome_record(outcome: AuditOutcome) -> dict[str, Any]:
    record: dict[str, Any] = {"status": outcome.status, "replayed": outcome.replayed}
    if outcome.runs:
        record["runs"] = list(outcome.runs)
    if outcome.target is not None:
        record["target"] = outcome.target
    if outcome.detail is not None:
        record["detail"] = outcome.detail
    return record


def to_outcome(record: Mapping[str, Any]) -> AuditOutcome:
    return AuditOutcome(
        status=int(record["status"]),
        replayed=bool(record.get("replayed")),
        runs=tuple(str(run) for run in record.get("runs", ())),
        target=_text(record.get("target")),
        detail=_text(record.get("detail")),
    )


def to_entry(record: Mapping[str, Any], outcome: Mapping[str, Any] | None = None) -> AuditEntry:
    """The entry a record holds, with the outcome kept beside it if there is one; ValueError
    if it is not an entry (an object written by hand)."""
    try:
        own = record.get("outcome")
        kept = own if own is not None else outcome
        return AuditEntry(
            entry_id=str(record["id"]),
            at=str(record["at"]),
            who=str(record["who"]),
            role=str(record["role"]),
            via=str(record["via"]),
            operation=str(record["operation"]),
            method=str(record["method"]),
            path=str(record["path"]),
            request_id=str(record["requestId"]),
            runs=tuple(str(run) for run in record.get("runs", ())),
            outcome=None if kept is None else to_outcome(kept),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not an audit record: {exc!r}") from None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def matches(entry: AuditEntry, query: AuditQuery) -> bool:
    """Whether the record is one ``query`` asks for (its page aside)."""
    moment = datetime.fromisoformat(entry.at.replace("Z", "+00:00"))
    return (
        (query.run is None or query.run in entry.every_run)
        and (query.who is None or entry.who == query.who)
        and (query.since is None or moment >= query.since)
        and (query.until is None or moment <= query.until)
    )
