"""The audit trail kept around each state-changing request (``functions/audit``): the
runtime records who asked before the handler runs and what came of it after, so that no
handler has to remember to, and one that forgets cannot do anything unrecorded.

An operation changes state unless it reads (``Operation.changes_state``). Its record is
written once the caller is known and allowed, before the body is read: if it cannot be
written, the request is answered 503 and nothing is done. A request refused for its role is
recorded with its refusal. Its outcome is written after the handler answered: if that
fails, the answer still goes out (what was done is done) and the record shows no outcome.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from functions.access import Caller, blanked
from functions.context import iso_millis
from functions.errors import StorageUnavailable
from functions.http.operation import Operation
from functions.http.problems import problem
from functions.http.web import HttpRequest, HttpResponse
from functions.storage import keys
from functions.storage.audit_log import MAX_DETAIL, MAX_WHO, AuditEntry, AuditLog, AuditOutcome
from functions.wire.identifiers import RunId

log = logging.getLogger(__name__)

REQUEST_ID = "X-Request-Id"
# The answer's fields that name what a request made, when it made one thing.
_MADE = ("runId", "customerId", "id", "name")


def outcome_of(response: HttpResponse[Any], secrets: Sequence[str] = ()) -> AuditOutcome:
    """What a request's answer says came of it (a credential in it blanked)."""
    body = response.body
    runs: tuple[str, ...] = ()
    target = detail = None
    if isinstance(body, Mapping):
        if response.status >= 400:
            detail = blanked(str(body.get("detail", "")), secrets)[:MAX_DETAIL] or None
        elif isinstance(body.get("runId"), str):
            runs = (body["runId"],)
        else:
            made = next((body[name] for name in _MADE if isinstance(body.get(name), str)), None)
            target = None if made is None else blanked(str(made), secrets)[:MAX_WHO]
    elif isinstance(body, list) and response.status < 400:
        ids = [str(item["customerId"]) for item in body if isinstance(item, Mapping)]
        named = f"{len(body)} customers: {', '.join(ids)}" if ids else f"{len(body)} customers"
        target = blanked(named, secrets)[:MAX_WHO]
    replayed = response.headers.get("Idempotent-Replayed") == "true"
    return AuditOutcome(response.status, replayed, runs, target, detail)


@dataclass(frozen=True)
class Auditor:
    """Writes ``audit``'s records, timed by ``clock`` (UTC); ``new_id`` names a request."""

    audit: AuditLog
    clock: Callable[[], datetime]
    new_id: Callable[[], str] = lambda: uuid.uuid4().hex
    # The configured secrets (``BILLING_TOKEN``...), blanked wherever a request repeats one.
    secrets: Callable[[], Sequence[str]] = lambda: ()

    def entry(
        self, caller: Caller, operation: Operation, head: HttpRequest, path: Mapping[str, str]
    ) -> AuditEntry:
        now = self.clock()
        request_id = self.new_id()
        run = path.get("runId")
        if run is not None and RunId.PATTERN.fullmatch(run) is None:
            run = None  # not a run (answered 400): nothing to index, the path says it
        return AuditEntry(
            entry_id=keys.audit_entry_id(int(now.timestamp() * 1000), request_id),
            at=iso_millis(now),
            who=caller.name[:MAX_WHO],
            role=caller.role.value,
            via=caller.via,
            operation=operation.operation_id,
            method=head.method,
            path=blanked(head.path, self.secrets())[:1024],
            request_id=request_id,
            runs=() if run is None else (run,),
        )

    def refused(self, entry: AuditEntry, refusal: HttpResponse[Any]) -> HttpResponse[Any]:
        """Record a refusal for the caller's role; the refusal, whether or not it was kept
        (nothing was done either way)."""
        try:
            self.audit.begin(replace(entry, outcome=outcome_of(refusal, self.secrets())))
        except StorageUnavailable as exc:
            log.error("the refusal of request %s is not audited: %s", entry.request_id, exc)
        return with_request_id(refusal, entry)

    def begin(self, entry: AuditEntry) -> HttpResponse[Any] | None:
        """Record the request before it is done; if that fails, the 503 to answer (nothing
        may be done), and the record, if it was written in part, says nothing was."""
        try:
            self.audit.begin(entry)
            return None
        except StorageUnavailable as exc:
            log.error(
                "request %s (%s): its audit record cannot be written: %s",
                entry.request_id,
                entry.operation,
                exc,
            )
        refusal = problem(
            503,
            "nothing was done: the audit record of this request cannot be written (S3 is"
            " unavailable); try again",
        )
        with contextlib.suppress(StorageUnavailable):
            self.audit.end(entry, outcome_of(refusal, self.secrets()))
        return with_request_id(refusal, entry)

    def end(self, entry: AuditEntry, response: HttpResponse[Any]) -> HttpResponse[Any]:
        try:
            self.audit.end(entry, outcome_of(response, self.secrets()))
        except StorageUnavailable as exc:
            log.error(
                "request %s (%s by %s) answered %s, but its outcome is not audited: %s",
                entry.request_id,
                entry.operation,
                entry.who,
                response.status,
                exc,
            )
        return with_request_id(response, entry)


def with_request_id(response: HttpResponse[Any], entry: AuditEntry) -> HttpResponse[Any]:
    return replace(response, headers={**response.headers, REQUEST_ID: entry.request_id})
