"""A ``TokenStore`` in memory, kept as the S3 one keeps its records (in its keys' order, a
create once a name), and counting how often its every token is read (what a refresh of the
functions' cache costs)."""

from __future__ import annotations

import dataclasses
import threading

from functions.errors import StorageUnavailable
from functions.storage import keys
from functions.storage.base import Page, StoredToken


class MemoryTokenStore:
    def __init__(self) -> None:
        self.records: dict[str, StoredToken] = {}  # by key, as the S3 store keeps them
        self.reads = 0  # calls of ``every``
        self.down = False  # S3 is unavailable while set
        self._lock = threading.Lock()

    def _reachable(self) -> None:
        if self.down:
            raise StorageUnavailable("could not read s3://billing-tokens/tokens/: S3 is down")

    def create(self, token: StoredToken) -> bool:
        self._reachable()
        with self._lock:
            key = keys.token_record(token.name)
            if key in self.records:
                return False
            self.records[key] = token
            return True

    def get(self, name: str) -> StoredToken | None:
        self._reachable()
        return self.records.get(keys.token_record(name))

    def revoke(self, name: str, at: str, by: str | None) -> StoredToken | None:
        self._reachable()
        with self._lock:
            token = self.records.get(keys.token_record(name))
            if token is None or token.revoked:
                return token
            revoked = dataclasses.replace(token, revoked_at=at, revoked_by=by)
            self.records[keys.token_record(name)] = revoked
            return revoked

    def page(self, after: str, limit: int) -> Page[StoredToken]:
        self._reachable()
        start = keys.token_record(after) if after else ""
        following = [self.records[key] for key in sorted(self.records) if key > start]
        shown = following[:limit]
        more = len(following) > limit and bool(shown)
        return Page(shown, shown[-1].name if more else None)

    def every(self) -> list[StoredToken]:
        self._reachable()
        self.reads += 1
        return [self.records[key] for key in sorted(self.records)]
