"""``GET /runs``: the runs, newest first, a page at a time, filtered by state and start.

A page costs one listing of the runs' index (``keys.run_listing``) and one read a run; a
run not finished yet also costs a listing of its bills and one of its failures (a request
per 1,000 each, so at most 10 each for the largest run), a read of its cancellation and a
listing of its retries. A run seen finished keeps its counts (``RunSummary``), so the next
page that shows it reads it alone. A filter looks at no more than ``SCANNED_PER_PAGE``
runs for a page: a page may hold fewer runs than asked and still have a next one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from functions import query as parse
from functions.identifiers import RunId
from functions.runs import RUN_STATES, RunRecords, listed
from functions.storage import Page

DEFAULT_PAGE = 20
MOST_A_PAGE = 100
SCANNED_PER_PAGE = 200


def _stamp_of(moment: datetime | None) -> str | None:
    """A time as a run id's stamp, ``yyyymmddHHMMSS``."""
    return None if moment is None else f"{moment:%Y%m%d%H%M%S}"


@dataclass(frozen=True)
class RunQuery:
    limit: int = DEFAULT_PAGE
    after: str = ""
    state: str | None = None
    since: str | None = None  # yyyymmddHHMMSS, inclusive
    until: str | None = None

    @classmethod
    def parse(cls, query: Mapping[str, str]) -> RunQuery:
        limit = parse.whole_number(query, "limit", 1, MOST_A_PAGE, DEFAULT_PAGE)
        after = parse.text(query, "after", RunId.PATTERN, 40, f"a run id (like {RunId.EXAMPLE})")
        state = parse.one_of(query, "state", RUN_STATES)
        since = _stamp_of(parse.moment(query, "since"))
        until = _stamp_of(parse.moment(query, "until"))
        return cls(limit, after or "", state, since, until)

    def page(self, records: RunRecords) -> Page[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        if self.since is not None and self.until is not None and self.since > self.until:
            return Page(found, None)  # nothing starts after since and by until
        after, scanned = self.after, 0
        while len(found) < self.limit and scanned < SCANNED_PER_PAGE:
            ids = records.runs.newest(
                after, self.until, min(self.limit, SCANNED_PER_PAGE - scanned)
            )
            for run_id in ids.items:
                after, scanned = run_id, scanned + 1
                if self.since is not None and RunId(run_id).stamp < self.since:
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

    def next_path(self, after: str) -> str:
        query: dict[str, Any] = {"after": after, "limit": self.limit}
        for name in ("state", "since", "until"):
            value = getattr(self, name)
            if value is not None:
                query[name] = value if name == "state" else _iso(value)
        return f"/runs?{urlencode(query)}"


def _iso(stamp: str) -> str:
    return datetime.strptime(stamp, "%Y%m%d%H%M%S").strftime("%Y-%m-%dT%H:%M:%SZ")
