"""The audit trail on S3, in ``TOKENS_BUCKET`` beside the tokens (keep it private):

- ``audit/log/<id>.json``: a request, written before it is done, created once;
- ``audit/outcome/<id>.json``: what came of it, written once it was answered;
- ``audit/by-run/<run>/<id>`` and ``audit/by-who/<who>/<id>``: empty, the indexes that
  page a run's or a caller's records without reading anybody else's.

An id is the time counted down, then the request's id, so S3 lists the newest first and a
time range is a range of keys. A request costs 2 writes before (its record, after its
indexes, by who and by the run its path names, written at once; 3 with a run) and 1
or 2 after (its outcome, and the run it started); a page of ``n`` costs a listing and
``2n`` reads, and a filter by run and by who together reads the run's records alone.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime

from functions.storage import keys
from functions.storage.audit_log import (
    AuditEntry,
    AuditLog,
    AuditOutcome,
    AuditQuery,
    entry_record,
    matches,
    outcome_record,
    to_entry,
)
from functions.storage.base import Page
from functions.storage.bucket import in_parallel
from functions.storage.objects import Objects

log = logging.getLogger(__name__)

# The most records a page looks at when its filters are more than one index tells.
SCANNED_PER_PAGE = 1_000


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class S3AuditLog(AuditLog):
    """``AuditLog`` on one bucket."""

    def __init__(self, bucket: Objects) -> None:
        self.bucket = bucket

    def begin(self, entry: AuditEntry) -> None:
        # The indexes first: a record is never kept that its caller's or its run's listing
        # would miss (an index whose record is missing is passed over).
        indexes = [keys.audit_by(entry.who), *(keys.audit_of_run(run) for run in entry.runs)]
        in_parallel(lambda index: self.bucket.put_json(index + entry.entry_id, {}), indexes)
        self.bucket.put_json(
            keys.audit_entry(entry.entry_id), entry_record(entry), only_if_absent=True
        )

    def end(self, entry: AuditEntry, outcome: AuditOutcome) -> None:
        # The run's index first: an outcome naming a run is never kept that the run's
        # listing would miss (without its outcome, the record names no run it made).
        for run in outcome.runs:
            if run not in entry.runs:
                self.bucket.put_json(keys.audit_of_run(run) + entry.entry_id, {})
        self.bucket.put_json(
            keys.audit_outcome(entry.entry_id), outcome_record(outcome), only_if_absent=True
        )

    def page(self, query: AuditQuery) -> Page[AuditEntry]:
        if query.since is not None and query.until is not None and query.since > query.until:
            return Page([], None)  # as GET /runs: a well-formed query, of nothing
        if query.run is not None:
            prefix = keys.audit_of_run(query.run)
        elif query.who is not None:
            prefix = keys.audit_by(query.who)
        else:
            prefix = keys.AUDIT_LOG
        # After the cursor's key itself (the log's end in .json; the indexes' do not).
        start = keys.audit_entry(query.after) if query.after else ""
        if query.after and prefix != keys.AUDIT_LOG:
            start = prefix + query.after
        if query.until is not None:
            start = max(start, prefix + keys.audit_ids_from(_millis(query.until)))
        found: list[AuditEntry] = []
        ids = self._ids(prefix, start, query.since)
        scanned: list[str] = []
        while len(found) < query.limit and len(scanned) < SCANNED_PER_PAGE:
            chunk = [
                entry_id for _, entry_id in zip(range(query.limit - len(found)), ids, strict=False)
            ]
            if not chunk:
                return Page(found, None)
            scanned.extend(chunk)
            found.extend(entry for entry in self._read(chunk) if matches(entry, query))
        # One more id says whether there is a next page.
        more = next(ids, None) is not None
        return Page(found, scanned[-1] if more else None)

    def _ids(self, prefix: str, start: str, since: datetime | None) -> Iterator[str]:
        oldest = None if since is None else _millis(since)
        for key in self.bucket.names(prefix, start_after=start):
            entry_id = keys.audit_id_of(key)
            if oldest is not None and keys.millis_of_audit_id(entry_id) < oldest:
                return  # older records only from here on
            yield entry_id

    def _read(self, ids: list[str]) -> list[AuditEntry]:
        records = self.bucket.get_json_all(
            [keys.audit_entry(entry_id) for entry_id in ids]
            + [keys.audit_outcome(entry_id) for entry_id in ids]
        )
        entries, outcomes = records[: len(ids)], records[len(ids) :]
        read: list[AuditEntry] = []
        for entry_id, record, outcome in zip(ids, entries, outcomes, strict=True):
            if record is None:
                continue  # an index written, its record not (S3 failed in between)
            try:
                read.append(to_entry(record, outcome))
            except ValueError as exc:
                log.warning("s3 object %s is no audit record: %s", keys.audit_entry(entry_id), exc)
        return read
