"""The stores of runs and bills on S3-compatible storage, one object each. The jobs are kept
by role (``s3_job_writer``, ``s3_job_finder``, ``s3_sweep``, ``s3_failures``,
``s3_run_progress``), the customers by ``s3_customers``.

Every conditional write creates an object that does not exist yet (``If-None-Match: *``),
so a duplicate message or a second engine instance can never overwrite a bill. Nothing
relies on ``If-Match``, which no local S3 server applies atomically (see
``infra/s3server.py``).
"""

from __future__ import annotations

from collections.abc import Iterator

from functions.identifiers import WorkflowId
from functions.storage import keys, records
from functions.storage.base import (
    BillStore,
    IdempotencyRecord,
    Run,
    RunStore,
    StoredBill,
)
from functions.storage.bucket import Bucket


class S3RunStore(RunStore):
    """``keys.run_record`` and ``keys.idempotency_claim``."""

    def __init__(self, bucket: Bucket) -> None:
        self.bucket = bucket

    def claim(self, idempotency_key: str, record: IdempotencyRecord) -> IdempotencyRecord:
        key = keys.idempotency_claim(idempotency_key)
        if self.bucket.put_json(key, records.claim(record), only_if_absent=True) is not None:
            return record
        stored = self.bucket.get_json(key)
        if stored is None:  # vanished between the two calls; claim again
            return self.claim(idempotency_key, record)
        return records.to_claim(stored)

    def get(self, run_id: str) -> Run | None:
        stored = self.bucket.get_json(keys.run_record(run_id))
        return None if stored is None else records.to_run(stored)

    def save(self, run: Run) -> None:
        self.bucket.put_json(keys.run_record(run.run_id), records.run(run))


class S3BillStore(BillStore):
    """One object per bill, under its run's prefix; metadata say whose and when."""

    def __init__(self, bucket: Bucket) -> None:
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

    def text(self, name: str) -> str | None:
        body = self.bucket.get_bytes(name)
        return None if body is None else body.decode("utf-8", errors="replace")

    def listing(self, prefix: str = "") -> Iterator[StoredBill]:
        for name, modified, size in self.bucket.objects(prefix):
            yield StoredBill(name, size, modified)
