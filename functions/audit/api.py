"""``GET /audit``: the audit trail, newest first, a page at a time, filtered by run, by who
and by time (``functions/storage/audit_log.py`` says what a record holds). Declared once
below, beside its handler (``functions/http/operation.py``); the coordinator serves it, for
both functions' records, which share the tokens' bucket. Without that bucket
(``TOKENS_BUCKET`` unset) it answers 501: the functions keep no audit.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal, NotRequired, cast
from urllib.parse import urlencode

from typing_extensions import TypedDict

from functions.access import Role
from functions.http.operation import Api, Paged, Reply
from functions.http.parameters import RUN_ID, Moment, Text, WholeNumber
from functions.http.problems import problem
from functions.http.web import HttpResponse, documented
from functions.storage.audit_log import (
    DEFAULT_PAGE,
    MAX_WHO,
    MOST_A_PAGE,
    AuditEntry,
    AuditLog,
    AuditOutcome,
    AuditQuery,
    entry_record,
)
from functions.wire.identifiers import RunId

API = Api("Audit", "Who asked for each change, and what came of it.")

AUDIT_ID = Text(
    re.compile(r"[0-9]{13}-[0-9a-f]{1,64}"),
    "{name}={value} is not an audit record's id (a `next` of a page before)",
    78,
    examples=("8234567890123-0f1e2d3c4b5a69788796a5b4c3d2e1f0",),
)
WHO = Text(
    re.compile(r"[^\x00-\x1f\x7f]+"),
    f"{{name}}={{value}} is not a caller's name (1 to {MAX_WHO} characters, no control character)",
    MAX_WHO,
    least=1,
    examples=("ci-deploy",),
)


@documented
class Outcome(TypedDict):
    """What came of a request."""

    status: int
    """the HTTP status it was answered"""
    replayed: bool
    """it repeated an earlier request's answer (its Idempotency-Key's): nothing changed"""
    runs: NotRequired[list[str]]
    """the runs it started or changed"""
    target: NotRequired[str]
    """what it made or changed, when no run: a customer, a token"""
    detail: NotRequired[str]
    """why it was refused or failed"""


@documented
class AuditRecord(TypedDict):
    """One state-changing request: who asked what, when, and what came of it."""

    id: str
    at: str
    who: str
    """the token's name, or the JWT's subject; never a credential"""
    role: str
    via: str
    """how the caller was known: named token, environment token, oidc"""
    operation: str
    method: str
    path: str
    requestId: str
    """the answer's X-Request-Id"""
    runs: list[str]
    """the runs it names, by its path or by what it started"""
    outcome: Outcome | None
    """null: not recorded (the function stopped, or S3 failed, after it began)"""
    state: Literal["done", "refused", "failed", "unknown"]


@documented
class AuditPage(TypedDict):
    records: list[AuditRecord]
    next: str | None
    """the cursor of the next page (its `after`), null on the last"""


class AuditQueryParameters(Paged[Annotated[str, AUDIT_ID]]):
    after: Annotated[str, AUDIT_ID] | None = None
    """the cursor: the last record of the page before (`next`)"""
    limit: Annotated[int, WholeNumber(1, MOST_A_PAGE)] = DEFAULT_PAGE
    """records a page"""
    run: Annotated[RunId, RUN_ID] | None = None
    """only the records about this run: its start, retries, cancel"""
    who: Annotated[str, WHO] | None = None
    """only the records of this caller (a token's name, a JWT's subject)"""
    since: Annotated[datetime, Moment()] | None = None
    """records made at this time or later"""
    until: Annotated[datetime, Moment()] | None = None
    """records made at this time or earlier"""


def _state(outcome: AuditOutcome | None) -> Literal["done", "refused", "failed", "unknown"]:
    if outcome is None:
        return "unknown"
    if outcome.status < 400:
        return "done"
    return "failed" if outcome.status >= 500 else "refused"


def record_answer(entry: AuditEntry) -> AuditRecord:
    """A record as kept (``entry_record``), with the runs its outcome names, its outcome or
    null, and what came of it in a word."""
    kept = entry_record(entry)
    answer = {
        **kept,
        "runs": list(entry.every_run),
        "outcome": kept.get("outcome"),
        "state": _state(entry.outcome),
    }
    return cast(AuditRecord, answer)


@API.operation(
    "GET",
    "/audit",
    "listAudit",
    role=Role.OPERATOR,
    summary="The audit trail, newest first: who asked for each change, and what came of it",
    description="Every request that may change state is recorded before it is done, its"
    " outcome once answered; so are the refusals of them for the caller's role. A record"
    " that cannot be written stops the request (503). Filtered by run or by who, a page"
    " reads that run's or caller's records alone.",
    query=AuditQueryParameters,
    replies={
        200: Reply(
            "a page of records, newest first; `next` is the cursor of the next",
            AuditPage,
            headers={"Link": {"schema": {"type": "string"}}},
        ),
        400: Reply("a bad cursor, limit, run, who or time"),
        501: Reply("the functions keep no audit (TOKENS_BUCKET is unset)"),
        503: Reply("S3 is unavailable"),
    },
)
def list_audit(audit: AuditLog | None, query: AuditQueryParameters) -> HttpResponse[AuditPage]:
    if audit is None:
        return problem(
            501,
            "the functions keep no audit: TOKENS_BUCKET is unset; set it (a private bucket)"
            " to keep the named tokens and the audit trail",
        )
    asked = AuditQuery(
        query.limit, query.after or "", query.run, query.who, query.since, query.until
    )
    page = audit.page(asked)
    headers = {}
    if page.next_after is not None:
        following: dict[str, str | int] = {"after": page.next_after, "limit": query.limit}
        for name in ("run", "who"):
            if getattr(query, name) is not None:
                following[name] = str(getattr(query, name))
        for name in ("since", "until"):
            moment = getattr(query, name)
            if moment is not None:
                following[name] = f"{moment:%Y-%m-%dT%H:%M:%SZ}"
        headers["Link"] = f'</audit?{urlencode(following)}>; rel="next"'
    answer = AuditPage(records=[record_answer(e) for e in page.items], next=page.next_after)
    return HttpResponse(200, answer, headers)
