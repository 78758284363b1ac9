"""The S3 token store on a bucket in memory, counting how often its every token is read
(what a refresh of the functions' cache costs), and unreachable while ``down``: the one
store's code, with what the cache's tests need to see and to break."""

from __future__ import annotations

from functions.errors import StorageUnavailable
from functions.storage.base import Page, StoredToken
from functions.storage.memory_bucket import MemoryBucket
from functions.storage.s3_tokens import S3TokenStore


class MemoryTokenStore(S3TokenStore):
    def __init__(self) -> None:
        super().__init__(MemoryBucket("billing-tokens"))
        self.reads = 0  # calls of ``every``
        self.down = False  # S3 is unavailable while set

    def _reachable(self) -> None:
        if self.down:
            raise StorageUnavailable("could not read s3://billing-tokens/tokens/: S3 is down")

    def create(self, token: StoredToken) -> bool:
        self._reachable()
        return super().create(token)

    def get(self, name: str) -> StoredToken | None:
        self._reachable()
        return super().get(name)

    def revoke(self, name: str, at: str, by: str | None) -> tuple[StoredToken, bool] | None:
        self._reachable()
        return super().revoke(name, at, by)

    def page(self, after: str, limit: int) -> Page[StoredToken]:
        self._reachable()
        return super().page(after, limit)

    def every(self) -> list[StoredToken]:
        self._reachable()
        self.reads += 1
        return super().every()
