"""``GET /runs``: the runs, newest first, a page at a time, filtered by state and start.

A page costs one listing of the runs' index (``keys.run_listing``) and one read a run; a
run not finished yet also costs a listing of its bills and one of its failures (a request
per 1,000 each, so at most 10 each for the largest run), a read of its cancellation and a
listing of its retries. A run seen finished keeps its counts (``RunSummary``), so the next
page that shows it reads it alone. A filter looks at no more than ``SCANNED_PER_PAGE``
runs for a page: a page may hold fewer runs than asked and still have a next one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from functions.runs.answers import ListedRun, RunState
from functions.runs.status import RunRecords, listed
from functions.storage import Page
from functions.wire.identifiers import RunId

DEFAULT_PAGE = 20
MOST_A_PAGE = 100
SCANNED_PER_PAGE = 200


def _stamp_of(moment: datetime | None) -> str | None:
    """A time as a run id's stamp, ``yyyymmddHHMMSS``."""
    return None if moment is None else f"{moment:%Y%m%d%H%M%S}"


@dataclass(frozen=True)
class RunFilter:
    """Which runs a page shows: those after the run ``after`` (newest first), in ``state``,
    started from ``since`` to ``until`` (UTC), ``limit`` at most."""

    limit: int = DEFAULT_PAGE
    after: str = ""
    state: RunState | None = None
    since: datetime | None = None
    until: datetime | None = None

    def page(self, records: RunRecords) -> Page[ListedRun]:
        found: list[ListedRun] = []
        since, until = _stamp_of(self.since), _stamp_of(self.until)
        if since is not None and until is not None and since > until:
            return Page(found, None)  # nothing starts after since and by until
        after, scanned = self.after, 0
        while len(found) < self.limit and scanned < SCANNED_PER_PAGE:
            ids = records.runs.newest(after, until, min(self.limit, SCANNED_PER_PAGE - scanned))
            for run_id in ids.items:
                after, scanned = run_id, scanned + 1
                if since is not None and RunId(run_id).stamp < since:
                    return Page(found, None)  # older runs only from here on
                run = records.runs.get(run_id)
                entry = listed(run, records) if run is not None else None
                if entry is not None and self.state in (None, entry["state"]):
                    found.append(entry)
                    if len(found) == self.limit:
                        return Page(
                            found, run_id if ids.next_after or run_id != ids.items[-1] else None
                        )
            if ids.next_after is None:
                return Page(found, None)
        return Page(found, after)

    def next_query(self, after: str) -> dict[str, Any]:
        """The query of the page after this one, which ended at the run ``after``."""
        query: dict[str, Any] = {"after": after, "limit": self.limit}
        if self.state is not None:
            query["state"] = self.state
        for name, moment in (("since", self.since), ("until", self.until)):
            if moment is not None:
                query[name] = f"{moment:%Y-%m-%dT%H:%M:%SZ}"
        return query
