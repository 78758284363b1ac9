"""Buckets kept in this process's memory, with the semantics of S3 the stores rely on
(``objects.Objects``): byte-ordered keys, listings by prefix, start and folder, creates that
refuse to overwrite, one of concurrent creates winning, last-modified times to the second.

It lives beside ``bucket.Bucket`` rather than among the tests because it is a second
implementation of the same seam, not a stub of it: the runtime's composition root can be
given it (``runtime.services.Services(settings, buckets=MemoryBuckets())``), and the unit
tier runs the functions' behaviour on it, at a small fraction of moto's cost. Nothing in it
knows of S3's wire, so it says nothing of what a behaviour costs in requests: the tests that
count requests, inject S3's faults or test the S3 adapters stay on moto.
``tests/unit/test_bucket_contract.py`` runs the same cases against both, so the two cannot
drift apart.
"""

from __future__ import annotations

import bisect
import hashlib
import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from functions.errors import StorageUnavailable
from functions.storage.objects import Objects

# What one listing request of S3 returns at most. A listing is read a page at a time, so
# what is written or deleted while it is read shows as on S3: in the pages not read yet.
_PAGE = 1000


@dataclass(frozen=True, slots=True)
class _Stored:
    body: bytes
    metadata: Mapping[str, str]
    modified: datetime


class MemoryBucket(Objects):
    """One bucket in memory. Every method holds its lock while it reads or changes the
    objects, so it can be used from many threads (``bucket.in_parallel``) as S3 is."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()
        self._objects: dict[str, _Stored] = {}
        self._keys: list[str] = []  # sorted: Python orders str by code point, as UTF-8 bytes

    def _checked(self, action: str, key: str) -> None:
        """Refuses the empty key, as S3's API does."""
        if not key:
            raise StorageUnavailable(
                f"could not {action} an object of memory bucket {self.name!r}: its key is empty"
            )

    def metadata(self, key: str) -> Mapping[str, str] | None:
        self._checked("read", key)
        with self._lock:
            stored = self._objects.get(key)
        return None if stored is None else dict(stored.metadata)

    def get_bytes(self, key: str) -> bytes | None:
        self._checked("read", key)
        with self._lock:
            stored = self._objects.get(key)
        return None if stored is None else stored.body

    def put_bytes(
        self,
        key: str,
        body: bytes,
        content_type: str,
        *,
        only_if_absent: bool = False,
        metadata: Mapping[str, str] | None = None,
    ) -> str | None:
        self._checked("write", key)
        # The content type is not kept: nothing reads it back.
        stored = _Stored(
            body=bytes(body),
            # S3 keeps user metadata's names in lower case.
            metadata={name.lower(): value for name, value in (metadata or {}).items()},
            modified=datetime.now(UTC).replace(microsecond=0),
        )
        with self._lock:
            if key in self._objects:
                if only_if_absent:
                    return None
            else:
                bisect.insort(self._keys, key)
            self._objects[key] = stored
        # S3's ETag of an object written whole: its body's MD5, quoted.
        return f'"{hashlib.md5(body, usedforsecurity=False).hexdigest()}"'

    def delete(self, key: str) -> None:
        self._checked("delete", key)
        with self._lock:
            self._remove(key)

    def delete_many(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._checked("delete", key)
        with self._lock:
            for key in keys:
                self._remove(key)

    def _remove(self, key: str) -> None:
        if self._objects.pop(key, None) is not None:
            del self._keys[bisect.bisect_left(self._keys, key)]

    def objects(self, prefix: str = "") -> Iterator[tuple[str, datetime, int]]:
        for page in self._pages(prefix, ""):
            for key, stored in page:
                yield key, stored.modified, len(stored.body)

    def versions(self, prefix: str) -> Iterator[tuple[str, str | None]]:
        # As S3 lists it: the ETag (the body's MD5, quoted) and the time.
        for page in self._pages(prefix, ""):
            for key, stored in page:
                etag = hashlib.md5(stored.body, usedforsecurity=False).hexdigest()
                yield key, f'"{etag}" {stored.modified}'

    def names(self, prefix: str = "", start_after: str = "") -> Iterator[str]:
        for page in self._pages(prefix, start_after):
            for key, _stored in page:
                yield key

    def _pages(self, prefix: str, start_after: str) -> Iterator[list[tuple[str, _Stored]]]:
        """The objects with ``prefix`` after ``start_after``, a page at a time, each page
        read under the lock from where the last ended."""
        after = start_after
        while True:
            with self._lock:
                start = self._first(prefix, after)
                page = []
                for key in self._keys[start : start + _PAGE]:
                    if not key.startswith(prefix):
                        break
                    page.append((key, self._objects[key]))
            if page:
                yield page
            if len(page) < _PAGE:
                return
            after = page[-1][0]

    def folders(self, prefix: str, start_after: str = "") -> Iterator[str]:
        for name, is_folder in self._below(prefix, start_after):
            if is_folder:
                yield name

    def files(self, prefix: str) -> Iterator[str]:
        for name, is_folder in self._below(prefix, ""):
            if not is_folder:
                yield name

    def _below(self, prefix: str, start_after: str) -> Iterator[tuple[str, bool]]:
        """A listing with the delimiter ``/``: the keys right below ``prefix`` and the
        folders (each key's start up to the next ``/``), in order, each once, each sorting
        after ``start_after``. Read a page at a time as ``_pages``."""
        after = start_after
        while True:
            with self._lock:
                found = self._entries_after(prefix, after)
            yield from found
            if len(found) < _PAGE:
                return
            after = found[-1][0]

    def _entries_after(self, prefix: str, after: str) -> list[tuple[str, bool]]:
        """Up to a page of ``_below``'s entries after ``after``; under the lock."""
        found: list[tuple[str, bool]] = []
        keys = self._keys
        at = self._first(prefix, after)
        while at < len(keys) and len(found) < _PAGE:
            key = keys[at]
            if not key.startswith(prefix):
                break
            slash = key.find("/", len(prefix))
            if slash < 0:
                found.append((key, False))
                at += 1
                continue
            folder = key[: slash + 1]
            if folder > after:
                found.append((folder, True))
            at = self._past(folder, at)
        return found

    def _first(self, prefix: str, after: str) -> int:
        """The index of the first key that may have ``prefix`` and sorts after ``after``."""
        at = bisect.bisect_left(self._keys, prefix)
        return max(at, bisect.bisect_right(self._keys, after)) if after else at

    def _past(self, folder: str, at: int) -> int:
        """The index of the first key from ``at`` on that does not start with ``folder``
        (the keys that do are together, from ``at``, since ``keys[at]`` does)."""
        low, high = at, len(self._keys)
        while low < high:
            middle = (low + high) // 2
            if self._keys[middle].startswith(folder):
                low = middle + 1
            else:
                high = middle
        return low

    def existing(self, keys: Collection[str], few: int = 20) -> set[str]:
        for key in keys:
            self._checked("read", key)
        with self._lock:
            return {key for key in keys if key in self._objects}


class MemoryBuckets:
    """Buckets by name, each made empty when first asked for and the same one after: what
    ``Services`` is given to keep its buckets in memory. Every ``Services`` given the same
    ``MemoryBuckets`` sees the same objects, as processes on one S3 server do."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[str, MemoryBucket] = {}

    def __call__(self, name: str) -> MemoryBucket:
        with self._lock:
            bucket = self._buckets.get(name)
            if bucket is None:
                bucket = self._buckets[name] = MemoryBucket(name)
            return bucket
