"""One S3 bucket through boto3: reads that say "absent" instead of raising, creates that
refuse to overwrite, and every other error turned into ``StorageUnavailable``
(``objects.Objects``, the stores' view of a bucket)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from functions.errors import StorageUnavailable
from functions.storage.objects import Objects

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

T = TypeVar("T")

# What S3 servers answer for an object (or bucket) that is not there.
NOT_FOUND = frozenset({"NoSuchKey", "NoSuchBucket", "404", "NotFound"})
_ALREADY_THERE = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}
# Reads of a page of objects go out together: a page of 100 costs about what 7 reads cost.
_PARALLEL_REQUESTS = 16
_pool: ThreadPoolExecutor | None = None


def _parallel() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(_PARALLEL_REQUESTS, thread_name_prefix="s3-parallel")
    return _pool


def in_parallel(call: Callable[[T], Any], items: Iterable[T]) -> list[Any]:
    """``call`` on every item, a few S3 requests at a time; the results in the items' order.
    Each runs in the caller's context, so its requests are in the caller's trace."""
    contexts = [(copy_context(), item) for item in items]
    return list(_parallel().map(lambda pair: pair[0].run(call, pair[1]), contexts))


class Bucket(Objects):
    """One bucket through one boto3 client, with errors turned into ours."""

    def __init__(self, client: S3Client, name: str) -> None:
        self.client = client
        self.name = name

    def _unavailable(self, action: str, key: str, exc: Exception) -> StorageUnavailable:
        if isinstance(exc, ClientError) and exc.response["Error"]["Code"] == "NoSuchBucket":
            hint = "create it with `python -m infra.provision` (or `make up`)"
            return StorageUnavailable(f"S3 bucket {self.name!r} does not exist; {hint}")
        endpoint = self.client.meta.endpoint_url
        return StorageUnavailable(
            f"could not {action} s3://{self.name}/{key} at {endpoint}: {exc}. "
            "Check that the S3 server is running (`make up`) and S3_ENDPOINT_URL points at it."
        )

    def _read(self, key: str, read: Callable[[], T]) -> T | None:
        """``read()``, or None if there is no such object."""
        try:
            return read()
        except ClientError as exc:
            if exc.response["Error"]["Code"] in NOT_FOUND - {"NoSuchBucket"}:
                return None
            raise self._unavailable("read", key, exc) from exc
        except BotoCoreError as exc:
            raise self._unavailable("read", key, exc) from exc

    def metadata(self, key: str) -> Mapping[str, str] | None:
        """The object's user metadata, or None if there is no such object."""
        return self._read(
            key, lambda: self.client.head_object(Bucket=self.name, Key=key)["Metadata"]
        )

    def get_bytes(self, key: str) -> bytes | None:
        """The object's bytes, or None if there is no such object."""
        return self._read(
            key, lambda: self.client.get_object(Bucket=self.name, Key=key)["Body"].read()
        )

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
        extra: dict[str, Any] = {"Metadata": dict(metadata)} if metadata else {}
        if only_if_absent:
            extra["IfNoneMatch"] = "*"
        try:
            response = self.client.put_object(
                Bucket=self.name, Key=key, Body=body, ContentType=content_type, **extra
            )
            return response["ETag"]
        except ClientError as exc:
            if only_if_absent and exc.response["Error"]["Code"] in _ALREADY_THERE:
                return None
            raise self._unavailable("write", key, exc) from exc
        except BotoCoreError as exc:
            raise self._unavailable("write", key, exc) from exc

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.name, Key=key)
        except (ClientError, BotoCoreError) as exc:
            raise self._unavailable("delete", key, exc) from exc

    def delete_many(self, keys: Sequence[str]) -> None:
        """Delete the objects, a thousand to a request (S3's limit)."""
        for start in range(0, len(keys), 1000):
            chunk = keys[start : start + 1000]
            try:
                response = self.client.delete_objects(
                    Bucket=self.name,
                    Delete={"Objects": [{"Key": key} for key in chunk], "Quiet": True},
                )
            except (ClientError, BotoCoreError) as exc:
                raise self._unavailable("delete", f"{chunk[0]} and others", exc) from exc
            if errors := response.get("Errors"):
                first = errors[0]
                raise StorageUnavailable(
                    f"could not delete {len(errors)} object(s) of s3://{self.name}, e.g."
                    f" {first.get('Key')}: {first.get('Code')} {first.get('Message')}"
                )

    def objects(self, prefix: str = "") -> Iterator[tuple[str, datetime, int]]:
        """Each object's key, last-modified time and size, in key order."""
        for item in self._listed("Contents", Prefix=prefix):
            yield item["Key"], item["LastModified"], item["Size"]

    def names(self, prefix: str = "", start_after: str = "") -> Iterator[str]:
        """The keys with ``prefix`` that sort after ``start_after``, in key order, listed a
        thousand to a request as they are taken."""
        for item in self._listed("Contents", Prefix=prefix, StartAfter=start_after):
            yield item["Key"]

    def versions(self, prefix: str) -> Iterator[tuple[str, str | None]]:
        """Each object's key and version as its listing tells it (its ETag and time; None
        from a server that lists no ETag), in key order: what changed since an earlier
        listing, without reading an object."""
        for item in self._listed("Contents", Prefix=prefix):
            etag = item.get("ETag")
            yield item["Key"], None if not etag else f"{etag} {item.get('LastModified')}"

    def folders(self, prefix: str, start_after: str = "") -> Iterator[str]:
        """The "folders" right below ``prefix`` (the common prefixes up to the next ``/``)
        that sort after ``start_after``, in key order. A folder's name stands for all its
        objects: a server need not read them to list it."""
        listing = self._listed(
            "CommonPrefixes", Prefix=prefix, StartAfter=start_after, Delimiter="/"
        )
        for item in listing:
            yield item["Prefix"]

    def files(self, prefix: str) -> Iterator[str]:
        """The keys right below ``prefix``, not those in its folders."""
        for item in self._listed("Contents", Prefix=prefix, Delimiter="/"):
            yield item["Key"]

    def _listed(self, part: str, **listing: str) -> Iterator[Any]:
        """The ``part`` ("Contents" or "CommonPrefixes") of every page of a listing; an
        empty value of ``listing`` is left out (no prefix, no start)."""
        for page in self._pages(part, **listing):
            yield from page

    def _pages(self, part: str, **listing: str) -> Iterator[list[Any]]:
        """``_listed`` a page (a request, up to 1,000) at a time."""
        given = {name: value for name, value in listing.items() if value}
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.name,
                **given,  # type: ignore[arg-type]
            )
            for page in pages:
                yield page.get(part, [])
        except (ClientError, BotoCoreError) as exc:
            raise self._unavailable("list", listing.get("Prefix", "") + "*", exc) from exc

    def existing(self, keys: Collection[str], few: int = 20) -> set[str]:
        """Which of ``keys`` exist, at about the least of two costs: a HEAD of each, or a
        listing of the span of keys from the least to the greatest (a request per 1,000
        keys in it). Up to ``few`` keys, a HEAD each; more are listed, until the listing has
        cost as many requests as the keys not reached yet would cost HEADs: those get one
        each. So a run's bills in a period of many others cost the run, not the period."""
        wanted = sorted(set(keys))
        if len(wanted) <= few:
            return self._heads(wanted)
        greatest = wanted[-1]
        shared = next(
            (n for n, (a, b) in enumerate(zip(wanted[0], greatest, strict=False)) if a != b),
            min(len(wanted[0]), len(greatest)),
        )
        prefix, looking_for = wanted[0][:shared], set(wanted)  # the folder they share, and more
        found: set[str] = set()
        reached = 0  # the wanted keys the listing has gone past
        # Listed from just before the least: a key's start sorts before the key itself.
        listing = self._pages("Contents", Prefix=prefix, StartAfter=wanted[0][:-1])
        for pages, page in enumerate(listing, start=1):
            found.update(item["Key"] for item in page if item["Key"] in looking_for)
            last = page[-1]["Key"] if page else greatest
            while reached < len(wanted) and wanted[reached] <= last:
                reached += 1
            if reached == len(wanted):
                return found
            if pages >= len(wanted) - reached:
                return found | self._heads(wanted[reached:])
        return found

    def _heads(self, keys: Sequence[str]) -> set[str]:
        there = in_parallel(lambda key: self.metadata(key) is not None, keys)
        return {key for key, exists in zip(keys, there, strict=True) if exists}

    def get_json_all(self, keys: Sequence[str]) -> list[Mapping[str, Any] | None]:
        """The objects' JSON (None for one that is gone), read in parallel, in ``keys``' order."""
        return in_parallel(self.get_json, keys)
