"""The stores on S3-compatible storage, one object per job, bill and customer.

Every conditional write creates an object that does not exist yet (``If-None-Match: *``),
so a duplicate message or a second engine instance can never overwrite a bill or reset a
job, and a question is asked again by one sweep only: asking creates the record of that
question. Nothing relies on ``If-Match``, which no local S3 server applies atomically
(see ``infra/s3server.py``).
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Iterator
from datetime import datetime

from functions.identifiers import WorkflowId, safe_key
from functions.messages import Customer
from functions.storage import records
from functions.storage.base import (
    BillStore,
    CustomerStore,
    Failure,
    IdempotencyRecord,
    Job,
    JobStore,
    Run,
    RunStore,
    StoredBill,
)
from functions.storage.bucket import Bucket


class S3JobStore(JobStore):
    """``pending/<workflow>.json`` while a job waits for its answer (written once, when the
    first question is asked), ``asked/<workflow>/<n>.json`` for each question asked again,
    ``failed/<workflow>.json`` once it failed; a billed job leaves nothing here. Finding
    the jobs that wait lists only those in flight, never every job ever run."""

    PENDING = "pending/"
    ASKED = "asked/"
    FAILED = "failed/"

    def __init__(self, bucket: Bucket) -> None:
        self.bucket = bucket
        self._lock = threading.Lock()
        self._deferred: list[str] | None = None

    def _pending(self, workflow_id: WorkflowId) -> str:
        return f"{self.PENDING}{workflow_id.key}.json"

    def _asked(self, workflow_id: WorkflowId, attempt: int) -> str:
        return f"{self.ASKED}{workflow_id.key}/{attempt}.json"

    def _failed(self, workflow_id: WorkflowId) -> str:
        return f"{self.FAILED}{workflow_id.key}.json"

    def create(self, job: Job) -> Job:
        key = self._pending(job.workflow_id)
        if self.bucket.put_json(key, records.job(job), only_if_absent=True) is not None:
            return job
        waiting = self.get(job.workflow_id)
        return waiting if waiting is not None else self.create(job)

    def get(self, workflow_id: WorkflowId) -> Job | None:
        """The job as its first question left it (questions asked again are not read)."""
        stored = self.bucket.get_json(self._pending(workflow_id))
        return None if stored is None else records.to_job(stored)

    def ask_again(self, job: Job) -> bool:
        asked = records.question(job)
        key = self._asked(job.workflow_id, job.attempts)
        if self.bucket.put_json(key, asked, only_if_absent=True) is None:
            return False  # another sweep asked it first
        if self.bucket.metadata(self._pending(job.workflow_id)) is None:
            self.bucket.delete(key)  # answered since it was read: it waits no more
            return False
        return True

    def close(self, workflow_id: WorkflowId) -> None:
        key = self._pending(workflow_id)
        with self._lock:
            if self._deferred is not None:
                self._deferred.append(key)
                return
        self.bucket.delete(key)

    @contextlib.contextmanager
    def deferred_closes(self) -> Iterator[None]:
        """One request ends every wait closed in the block. Meant for one batch at a time:
        a runtime that commits offsets only after the block has ended."""
        with self._lock:
            self._deferred = []
        try:
            yield
            with self._lock:
                keys, self._deferred = self._deferred, None
            if keys:
                self.bucket.delete_many(keys)
        finally:
            with self._lock:
                self._deferred = None

    def fail(self, job: Job, reason: str, at: str) -> None:
        record = records.failure(job, reason, at)
        # The first failure's reason stays; the job waits no more either way.
        self.bucket.put_json(self._failed(job.workflow_id), record, only_if_absent=True)
        asked_again = [self._asked(job.workflow_id, n) for n in range(2, job.attempts + 1)]
        self.bucket.delete_many([self._pending(job.workflow_id), *asked_again])

    def failure(self, workflow_id: WorkflowId) -> Failure | None:
        record = self.bucket.get_json(self._failed(workflow_id))
        if record is None:
            return None
        return records.to_failure(record)

    def waiting(self, asked_before: datetime) -> Iterator[Job]:
        # The questions asked again, newest last: {workflow key: [(attempt, key, time)]}.
        asked: dict[str, list[tuple[int, str, datetime]]] = {}
        for key, modified, _size in self.bucket.objects(self.ASKED):
            workflow_key, _, name = key.removeprefix(self.ASKED).rpartition("/")
            attempt = name.removesuffix(".json")
            if attempt.isdigit():
                asked.setdefault(workflow_key, []).append((int(attempt), key, modified))
        for key, modified, _size in self.bucket.objects(self.PENDING):
            questions = sorted(asked.pop(key.removeprefix(self.PENDING).removesuffix(".json"), []))
            # An object is written when its question is asked, so newer ones are not due.
            if max([modified, *(when for _, _, when in questions)]) >= asked_before:
                continue
            stored = self.bucket.get_json(key)
            if stored is None:  # billed since the listing
                continue
            job = records.to_job(stored)
            if questions:
                last = self.bucket.get_json(questions[-1][1])
                if last is not None:
                    job = records.to_asked(job, last)
            yield job
        # Questions of jobs that wait no more (billed while being asked again).
        leftovers = [key for questions in asked.values() for _, key, _ in questions]
        if leftovers:
            self.bucket.delete_many(leftovers)

    def waiting_keys(self, workflow_prefix: str) -> set[str]:
        return set(self.bucket.stems(self.PENDING, workflow_prefix))

    def failed_keys(self, workflow_prefix: str) -> set[str]:
        return set(self.bucket.stems(self.FAILED, workflow_prefix))


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
