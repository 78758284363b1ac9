"""What the stores ask of a bucket: one namespace of objects, read, written once or again,
deleted and listed as S3 does it. ``bucket.Bucket`` keeps them in S3 through boto3,
``memory_bucket.MemoryBucket`` in this process; ``tests/unit/test_bucket_contract.py``
holds the two to the same cases.

The semantics every implementation keeps, as S3 keeps them:

- keys are listed in UTF-8 byte order (code point order: ``"a" < "a/b" < "a0" < "ab"``);
- a read of an object that is not there answers None, never raises;
- a create (``only_if_absent``) that finds the object refuses, answering None, and of
  concurrent creates of one key exactly one succeeds;
- user metadata's names are kept in lower case;
- an object's last-modified time is UTC, to the second;
- a listing is read a page (1,000 keys) at a time, as it is taken;
- the empty key is refused, and anything else that goes wrong is ``StorageUnavailable``.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any


class Objects(abc.ABC):
    """One bucket's objects, as the stores (``s3*.py``) use them."""

    name: str

    @abc.abstractmethod
    def metadata(self, key: str) -> Mapping[str, str] | None:
        """The object's user metadata, or None if there is no such object."""

    @abc.abstractmethod
    def get_bytes(self, key: str) -> bytes | None:
        """The object's bytes, or None if there is no such object."""

    @abc.abstractmethod
    def put_bytes(
        self,
        key: str,
        body: bytes,
        content_type: str,
        *,
        only_if_absent: bool = False,
        metadata: Mapping[str, str] | None = None,
    ) -> str | None:
        """Write the object; its new ETag, or None if ``only_if_absent`` and it exists."""

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Delete the object; nothing if there is none."""

    @abc.abstractmethod
    def delete_many(self, keys: Sequence[str]) -> None:
        """Delete the objects; nothing for one that is not there."""

    def get_json(self, key: str) -> Mapping[str, Any] | None:
        body = self.get_bytes(key)
        return None if body is None else json.loads(body)

    def put_json(
        self,
        key: str,
        value: Mapping[str, Any],
        *,
        only_if_absent: bool = False,
    ) -> str | None:
        body = json.dumps(value, separators=(",", ":")).encode()
        return self.put_bytes(key, body, "application/json", only_if_absent=only_if_absent)

    @abc.abstractmethod
    def objects(self, prefix: str = "") -> Iterator[tuple[str, datetime, int]]:
        """Each object's key, last-modified time and size, in key order."""

    @abc.abstractmethod
    def versions(self, prefix: str) -> Iterator[tuple[str, str | None]]:
        """Each object's key and version as a listing tells it (None where the server
        tells none), in key order: what changed since an earlier listing, with no read."""

    @abc.abstractmethod
    def names(self, prefix: str = "", start_after: str = "") -> Iterator[str]:
        """The keys with ``prefix`` that sort after ``start_after``, in key order."""

    @abc.abstractmethod
    def folders(self, prefix: str, start_after: str = "") -> Iterator[str]:
        """The "folders" right below ``prefix`` (the keys' starts up to the next ``/``,
        that ``/`` included) that sort after ``start_after``, in key order. As S3 lists
        them, a folder is left out when its own name does not sort after ``start_after``,
        even if some of its keys do."""

    @abc.abstractmethod
    def files(self, prefix: str) -> Iterator[str]:
        """The keys right below ``prefix``, not those in its folders."""

    @abc.abstractmethod
    def existing(self, keys: Collection[str], few: int = 20) -> set[str]:
        """Which of ``keys`` exist (``few``: a hint of how many are cheap to read one by
        one, where an implementation weighs reads against listings)."""

    def get_json_all(self, keys: Sequence[str]) -> list[Mapping[str, Any] | None]:
        """The objects' JSON (None for one that is gone), in ``keys``' order."""
        return [self.get_json(key) for key in keys]
