"""The stores of runs and bills on S3-compatible storage, one object each. The jobs are kept
by role (``s3_job_writer``, ``s3_job_finder``, ``s3_sweep``, ``s3_failures``,
``s3_run_progress``), the customers by ``s3_customers``.

Every conditional write creates an object that does not exist yet (``If-None-Match: *``),
so a duplicate message or a second engine instance can never overwrite a bill. Nothing
relies on ``If-Match``, which no local S3 server applies atomically (see
``infra/s3server.py``).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from itertools import islice

from functions.storage import keys, records
from functions.storage.base import (
    BillStore,
    Page,
    StoredBill,
)
from functions.storage.bucket import in_parallel
from functions.storage.objects import Objects
from functions.storage.run_records import (
    Cancellation,
    IdempotencyRecord,
    RetrySlot,
    Run,
    RunCancellations,
    RunStore,
    TickPage,
    TickPlans,
)
from functions.wire.identifiers import RunId, WorkflowId


class S3RunStore(RunStore):
    """``keys.run_record`` and ``keys.idempotency_claim``."""

    def __init__(self, bucket: Objects) -> None:
        self.bucket = bucket

    def claim(self, idempotency_key: str, record: IdempotencyRecord) -> IdempotencyRecord:
        key = keys.idempotency_claim(idempotency_key)
        if self.bucket.put_json(key, records.claim(record), only_if_absent=True) is not None:
            return record
        stored = self.bucket.get_json(key)
        if stored is None:  # vanished between the two calls; claim again
            return self.claim(idempotency_key, record)
        return records.to_claim(stored)

    def claimed(self, idempotency_key: str) -> IdempotencyRecord | None:
        stored = self.bucket.get_json(keys.idempotency_claim(idempotency_key))
        return None if stored is None else records.to_claim(stored)

    def get(self, run_id: str) -> Run | None:
        stored = self.bucket.get_json(keys.run_record(run_id))
        return None if stored is None else records.to_run(stored)

    def save(self, run: Run) -> None:
        self.bucket.put_json(keys.run_record(run.run_id), records.run(run))

    def list_run(self, run_id: str) -> None:
        if RunId.is_one(run_id):  # a run ours, with a start to sort by
            self.bucket.put_json(keys.run_listing(run_id), {}, only_if_absent=True)

    def newest(self, after: str, started_by: str | None, limit: int) -> Page[str]:
        start = keys.run_listing(after) if after else ""
        if started_by is not None:
            start = max(start, keys.listing_started_by(started_by))
        listed = list(islice(self.bucket.names(keys.RUNS_NEWEST_FIRST, start), limit + 1))
        run_ids = [keys.run_of_listing(key) for key in listed[:limit]]
        return Page(run_ids, run_ids[-1] if len(listed) > limit else None)

    def retry_slots(self, run_id: str) -> list[RetrySlot]:
        slot_keys = list(self.bucket.names(keys.retry_slots_of(run_id)))
        stored = self.bucket.get_json_all(slot_keys)
        return sorted(
            (records.to_retry_slot(record) for record in stored if record is not None),
            key=lambda slot: slot.number,
        )

    def claim_retry_slot(self, run_id: str, slot: RetrySlot) -> bool:
        key = keys.retry_slot(run_id, slot.number)
        return self.bucket.put_json(key, records.retry_slot(slot), only_if_absent=True) is not None

    def add_retry(self, run_id: str, retry_id: str) -> None:
        self.bucket.put_json(keys.retry(run_id, retry_id), {}, only_if_absent=True)

    def retries(self, run_id: str) -> list[str]:
        found = [keys.retry_of_key(key) for key in self.bucket.names(keys.retries_of(run_id))]
        return sorted(found)


class S3TickPlans(TickPlans):
    """``keys.tick_page``: a page of a tick, created once; ``keys.idempotency_claim`` of
    ``schedule:<tick>:0``: how versions before the plans marked a tick they started."""

    def __init__(self, bucket: Objects) -> None:
        self.bucket = bucket

    def page(self, tick: str, number: int) -> TickPage | None:
        stored = self.bucket.get_json(keys.tick_page(tick, number))
        return None if stored is None else records.to_tick_page(stored)

    def plan(self, tick: str, page: TickPage) -> TickPage:
        key = keys.tick_page(tick, page.number)
        if self.bucket.put_json(key, records.tick_page(tick, page), only_if_absent=True):
            return page
        return self.page(tick, page.number) or self.plan(tick, page)  # vanished: plan again

    def begin(self, tick: str) -> None:
        self.bucket.put_json(keys.open_tick(tick), {"tick": tick}, only_if_absent=True)

    def end(self, tick: str) -> None:
        self.bucket.delete(keys.open_tick(tick))

    def open_ticks(self) -> list[str]:
        opened = self.bucket.get_json_all(list(self.bucket.names(keys.OPEN_TICKS)))
        return sorted(str(record["tick"]) for record in opened if record is not None)


class S3RunCancellations(RunCancellations):
    """``keys.cancellation``: one object a cancelled run, created once.

    A run seen cancelled stays so. A run seen running is not looked at again within the
    batch, nor for ``fresh_for_s`` after (so a bill costs nothing for it, whatever the size
    of the batches): a bill may be written that long, plus a batch, after the cancel."""

    def __init__(self, bucket: Objects, fresh_for_s: float = 1.0) -> None:
        self.bucket = bucket
        self.fresh_for_s = fresh_for_s
        self._lock = threading.Lock()
        self._cancelled: set[str] = set()
        self._seen_running: dict[str, float] = {}  # run -> when (time.monotonic)
        self._running: set[str] | None = None  # within a batch: the runs seen running
        self._looking = threading.Lock()

    def cancel(self, run_id: str, at: str, by: str | None = None) -> tuple[Cancellation, bool]:
        key = keys.cancellation(run_id)
        record = {"runId": run_id, "cancelledAt": at, **({"cancelledBy": by} if by else {})}
        created = self.bucket.put_json(key, record, only_if_absent=True)
        with self._lock:
            self._cancelled.add(run_id)
        mine = Cancellation(at, by)
        if created:
            return mine, True
        return self.cancellation(run_id) or mine, False

    def cancellation(self, run_id: str) -> Cancellation | None:
        stored = self.bucket.get_json(keys.cancellation(run_id))
        if stored is None:
            return None
        by = stored.get("cancelledBy")
        return Cancellation(str(stored["cancelledAt"]), None if by is None else str(by))

    def is_cancelled(self, run_id: str) -> bool:
        known = self._known(run_id)
        if known is not None:
            return known
        with self._looking:  # the records in flight wait for one look, not one each
            known = self._known(run_id)
            return known if known is not None else self._look(run_id)

    def _known(self, run_id: str) -> bool | None:
        with self._lock:
            if run_id in self._cancelled:
                return True
            if self._running is not None and run_id in self._running:
                return False
            seen = self._seen_running.get(run_id)
            if seen is not None and time.monotonic() - seen < self.fresh_for_s:
                return False
        return None

    def _look(self, run_id: str) -> bool:
        cancelled = self.bucket.metadata(keys.cancellation(run_id)) is not None
        with self._lock:
            if cancelled:
                self._cancelled.add(run_id)
                self._seen_running.pop(run_id, None)
            else:
                self._seen_running[run_id] = time.monotonic()
                if len(self._seen_running) > 10_000:  # runs long over are forgotten
                    self._seen_running.pop(next(iter(self._seen_running)))
                if self._running is not None:
                    self._running.add(run_id)
        return cancelled

    @contextlib.contextmanager
    def batch(self) -> Iterator[Callable[[], None]]:
        with self._lock:
            self._running = set()
        try:
            yield lambda: None
        finally:
            with self._lock:
                self._running = None


class S3BillStore(BillStore):
    """One object per bill, under its run's prefix; metadata say whose and when."""

    def __init__(self, bucket: Objects) -> None:
        self.bucket = bucket

    def create(self, name: str, text: str, workflow_id: WorkflowId, billed_at: str) -> bool:
        metadata = {"workflow-id": workflow_id.key, "billed-at": billed_at}
        created = self.bucket.put_bytes(
            name,
            text.encode(),
            "text/plain; charset=utf-8",
            only_if_absent=True,
            metadata=metadata,
        )
        return created is not None

    def billed_at(self, name: str) -> str | None:
        metadata = self.bucket.metadata(name)
        return None if metadata is None else metadata.get("billed-at")

    def writer(self, name: str) -> str | None:
        metadata = self.bucket.metadata(name)
        return None if metadata is None else metadata.get("workflow-id")

    def existing(self, names: Collection[str]) -> set[str]:
        """A HEAD each for a few, else a listing of the part of the folder they span."""
        return self.bucket.existing(names)

    def writers(self, names: Sequence[str]) -> list[str | None]:
        """A HEAD each, a few at a time."""

        def writer(name: str) -> str | None:
            metadata = self.bucket.metadata(name)
            return None if metadata is None else metadata.get("workflow-id", "")

        return in_parallel(writer, names)

    def text(self, name: str) -> str | None:
        body = self.bucket.get_bytes(name)
        return None if body is None else body.decode("utf-8", errors="replace")

    def listing(self, prefix: str = "") -> Iterator[StoredBill]:
        for name, modified, size in self.bucket.objects(prefix):
            yield StoredBill(name, size, modified)
