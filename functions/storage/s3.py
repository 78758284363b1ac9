"""The stores of runs, bills and customers on S3-compatible storage, one object each (the
jobs' store is ``s3_jobs.py``).

Every conditional write creates an object that does not exist yet (``If-None-Match: *``),
so a duplicate message or a second engine instance can never overwrite a bill. Nothing
relies on ``If-Match``, which no local S3 server applies atomically (see
``infra/s3server.py``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from functions.identifiers import WorkflowId, safe_key
from functions.messages import Customer
from functions.storage import records
from functions.storage.base import (
    BillStore,
    CustomerStore,
    IdempotencyRecord,
    Run,
    RunStore,
    StoredBill,
)
from functions.storage.bucket import Bucket


class S3RunStore(RunStore):
    """``runs/<run id>.json`` and ``idempotency/<digest of the key>.json``."""

    RUNS = "runs/"
    KEYS = "idempotency/"

    def __init__(self, bucket: Bucket) -> None:
        self.bucket = bucket

    def claim(self, idempotency_key: str, record: IdempotencyRecord) -> IdempotencyRecord:
        # Digesting the key keeps any text a client sends out of the object's name.
        key = self.KEYS + hashlib.sha256(idempotency_key.encode()).hexdigest() + ".json"
        if self.bucket.put_json(key, records.claim(record), only_if_absent=True) is not None:
            return record
        stored = self.bucket.get_json(key)
        if stored is None:  # vanished between the two calls; claim again
            return self.claim(idempotency_key, record)
        return records.to_claim(stored)

    def get(self, run_id: str) -> Run | None:
        stored = self.bucket.get_json(f"{self.RUNS}{safe_key(run_id)}.json")
        return None if stored is None else records.to_run(stored)

    def save(self, run: Run) -> None:
        self.bucket.put_json(f"{self.RUNS}{safe_key(run.run_id)}.json", records.run(run))


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


class S3CustomerStore(CustomerStore):
    """``customers/<id>.json``, and ``ids/next-customer-id.json``: where numbering goes on."""

    PREFIX = "customers/"
    NEXT_ID = "ids/next-customer-id.json"

    def __init__(self, bucket: Bucket) -> None:
        self.bucket = bucket

    def _key(self, customer_id: str) -> str:
        return f"{self.PREFIX}{safe_key(customer_id)}.json"

    def get(self, customer_id: str) -> Customer | None:
        stored = self.bucket.get_json(self._key(customer_id))
        return None if stored is None else Customer.from_wire(stored)

    def all(self) -> list[Customer]:
        customers = []
        for key in self.bucket.names(self.PREFIX):
            stored = self.bucket.get_json(key)
            if stored is not None:
                customers.append(Customer.from_wire(stored))
        return customers

    def add(self, customer: Customer) -> bool:
        key = self._key(customer.customer_id)
        return self.bucket.put_json(key, customer.to_wire(), only_if_absent=True) is not None

    def _taken(self, customer_id: int) -> bool:
        return self.bucket.metadata(self._key(str(customer_id))) is not None

    def next_free_id(self, recount: bool = False) -> int:
        hint = None if recount else self.bucket.get_json(self.NEXT_ID)
        if hint is not None:
            return int(hint["nextId"])
        # Numbers are handed out in order, so the taken ones run from 1 up: find where that
        # run ends by doubling, then halving, at 2 log2(N) reads, never by listing N.
        taken, probe = 0, 1
        while self._taken(probe):
            taken, probe = probe, probe * 2
        while probe - taken > 1:
            middle = (taken + probe) // 2
            taken, probe = (middle, probe) if self._taken(middle) else (taken, middle)
        return probe

    def remember_next_id(self, customer_id: int) -> None:
        # Unconditional: a racing writer may set it lower, which costs a later creator
        # one more try, never a customer.
        self.bucket.put_json(self.NEXT_ID, {"nextId": customer_id})

    def put(self, customer: Customer) -> None:
        self.bucket.put_json(self._key(customer.customer_id), customer.to_wire())
