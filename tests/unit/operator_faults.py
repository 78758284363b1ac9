"""The faults the model-based test injects (``test_operator_model.py``): the n-th storage
write failing, on buckets in memory (``FaultyBuckets``: as ``Bucket`` fails when S3 cannot be
reached) or on moto (``S3Faults``: the n-th S3 write request fails before it is sent), and
Kafka refusing a transaction (``FlakyPublisher``); and the pool that keeps every request on
the caller's thread, so that a fault armed for "the n-th write from now" hits the same write
on every replay of an example."""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import EndpointConnectionError

from functions.errors import PublishFailed, StorageUnavailable
from functions.storage.memory_bucket import MemoryBucket, MemoryBuckets
from functions.storage.objects import Objects
from functions.wire.messages import Outgoing

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# The S3 requests that write, and so may fail when armed; ``FaultyBucket``'s writes are
# those ``Bucket`` makes them of: put_bytes (PutObject), delete (DeleteObject), delete_many
# (DeleteObjects, a request a thousand keys). No store copies (CopyObject).
WRITES = frozenset({"PutObject", "DeleteObject", "DeleteObjects", "CopyObject"})


class SynchronousPool:
    """An executor that runs each call at once, on the caller's thread."""

    def submit(self, call: Callable[..., Any], *args: Any) -> Future[Any]:
        done: Future[Any] = Future()
        done.set_result(call(*args))
        return done

    def map(self, call: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        return iter([call(item) for item in items])


def one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """S3 requests made one after the other, in a replayable order."""
    import functions.storage.bucket as bucket
    import functions.storage.s3_customers as s3_customers

    monkeypatch.setattr(bucket, "_parallel", SynchronousPool)
    monkeypatch.setattr(s3_customers, "_NAME_KEY_WRITERS", SynchronousPool())


@dataclass
class WriteFaults:
    """Makes the ``countdown``-th write from now fail as an unreachable server would."""

    countdown: int = 0
    failed: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def arm(self, nth_write: int) -> None:
        self.countdown = nth_write

    def disarm(self) -> None:
        self.countdown = 0

    def fails(self) -> bool:
        """A write is about to be sent: whether it is the one to fail."""
        with self._lock:
            if self.countdown == 0:
                return False
            self.countdown -= 1
            if self.countdown:
                return False
            self.failed += 1
        return True


class S3Faults(WriteFaults):
    """The faults of moto's S3 writes: the write request fails before it is sent."""

    def install(self, client: S3Client) -> None:
        client.meta.events.register("before-call.s3", self._before_call)

    def uninstall(self, client: S3Client) -> None:
        client.meta.events.unregister("before-call.s3", self._before_call)

    def _before_call(self, model: Any, **_: Any) -> None:
        if model.name in WRITES and self.fails():
            raise EndpointConnectionError(endpoint_url="http://moto")


class FaultyBucket(Objects):
    """A ``MemoryBucket`` whose writes fail when ``faults`` says, before they change
    anything, with what ``Bucket`` raises when S3 cannot be reached; its reads never fail
    (as ``S3Faults`` fails no read)."""

    def __init__(self, inner: MemoryBucket, faults: WriteFaults) -> None:
        self.inner, self.faults, self.name = inner, faults, inner.name

    def _write(self, action: str, key: str) -> None:
        if self.faults.fails():
            unreachable = EndpointConnectionError(endpoint_url="http://memory")
            raise StorageUnavailable(
                f"could not {action} s3://{self.name}/{key} at http://memory: {unreachable}. "
                "Check that the S3 server is running (`make up`) and S3_ENDPOINT_URL points "
                "at it."
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
        self._write("write", key)
        return self.inner.put_bytes(
            key, body, content_type, only_if_absent=only_if_absent, metadata=metadata
        )

    def delete(self, key: str) -> None:
        self._write("delete", key)
        self.inner.delete(key)

    def delete_many(self, keys: Sequence[str]) -> None:
        for start in range(0, len(keys), 1000):  # a request a thousand, as ``Bucket``'s
            chunk = keys[start : start + 1000]
            self._write("delete", f"{chunk[0]} and others")
            self.inner.delete_many(chunk)

    def metadata(self, key: str) -> Mapping[str, str] | None:
        return self.inner.metadata(key)

    def get_bytes(self, key: str) -> bytes | None:
        return self.inner.get_bytes(key)

    def objects(self, prefix: str = "") -> Iterator[tuple[str, datetime, int]]:
        return self.inner.objects(prefix)

    def versions(self, prefix: str) -> Iterator[tuple[str, str | None]]:
        return self.inner.versions(prefix)

    def names(self, prefix: str = "", start_after: str = "") -> Iterator[str]:
        return self.inner.names(prefix, start_after)

    def folders(self, prefix: str, start_after: str = "") -> Iterator[str]:
        return self.inner.folders(prefix, start_after)

    def files(self, prefix: str) -> Iterator[str]:
        return self.inner.files(prefix)

    def existing(self, keys: Collection[str], few: int = 20) -> set[str]:
        return self.inner.existing(keys, few)


class FaultyBuckets:
    """``MemoryBuckets`` seen through ``FaultyBucket``s sharing one ``WriteFaults``: what
    ``Services`` is given for buckets in memory whose writes fail when armed."""

    def __init__(self) -> None:
        self.memory = MemoryBuckets()
        self.faults = WriteFaults()

    def __call__(self, name: str) -> Objects:
        return FaultyBucket(self.memory(name), self.faults)


@dataclass
class FlakyPublisher:
    """Kafka as the coordinator sees it: keeps what it publishes; refuses the next
    ``refuse`` publishes (before anything is readable, as a failed transaction)."""

    published: list[Outgoing] = field(default_factory=list)
    refuse: int = 0

    def publish(
        self, messages: Sequence[Outgoing], before_commit: Callable[[], None] = lambda: None
    ) -> None:
        before_commit()
        if self.refuse:
            self.refuse -= 1
            raise PublishFailed("Kafka did not acknowledge the transaction (a test's fault)")
        self.published.extend(messages)
