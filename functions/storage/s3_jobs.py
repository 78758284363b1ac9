"""The job store on S3-compatible storage: waiting jobs are kept a batch at a time.

    waiting/<run>/<first>.json   the jobs whose first question one batch asked (written once),
                                 named after the first of them
    asked/<workflow>/<n>.json    question n of a job, asked again by the sweep
    failed/<workflow>.json       why a job ended without a bill

A job waits while a batch lists it and it has neither a bill nor a failure: its bill is its
completion. So a bill costs this store no request of its own: engine-start writes one
object per batch (per run in it), engine-complete finds an answer's job among the objects
of its run it has read, else in the object named after it (a lone question's answer costs
one read), else by listing the run's objects and reading the new ones; and the sweep clears
an object away once every job it lists has a bill or a failure.
Every write creates an object that is not there yet (``If-None-Match: *``); nothing
relies on ``If-Match``, which no local S3 server applies atomically.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from functions.bills import bill_folder, bill_name
from functions.identifiers import WorkflowId
from functions.log_context import about_workflow
from functions.storage import records
from functions.storage.base import Failure, Job, JobStore
from functions.storage.bucket import Bucket
from functions.storage.job_index import JobIndex

log = logging.getLogger(__name__)


def _listed(stored: Mapping[str, Any] | None) -> list[Job]:
    """The jobs a batch object lists; none if it was cleared away before it was read."""
    return records.to_jobs(stored) if stored is not None else []


def _workflow_prefix(folder: str) -> str:
    """What the keys of a run folder's workflows start with (``bill_folder`` reversed)."""
    return folder.removeprefix("wf-") if folder.startswith("wf-") else f"{folder}-"


class S3JobStore(JobStore):
    WAITING = "waiting/"
    ASKED = "asked/"
    FAILED = "failed/"
    LEGACY_PENDING = "pending/"  # one object per job, as versions before the batches kept it
    FEW_ENOUGH_TO_READ = 20  # open jobs of a run whose bills the sweep reads one by one

    def __init__(self, bucket: Bucket, bills: Bucket) -> None:
        self.bucket = bucket
        self.bills = bills
        self._lock = threading.Lock()
        self._refreshing = threading.Lock()
        self._index = JobIndex()
        self._batched: list[Job] | None = None
        # The sweep's copy of every batch object it has read: they never change.
        self._swept: dict[str, list[Job]] = {}
        self._adopted = False

    def _asked(self, workflow_id: WorkflowId, attempt: int) -> str:
        return f"{self.ASKED}{workflow_id.key}/{attempt}.json"

    def _failed(self, workflow_id: WorkflowId) -> str:
        return f"{self.FAILED}{workflow_id.key}.json"

    # -- engine-start ------------------------------------------------------------------

    def create(self, job: Job) -> None:
        with self._lock:
            if self._batched is not None:
                self._batched.append(job)
                return
        self._write([job])

    @contextlib.contextmanager
    def batch(self) -> Iterator[Callable[[], None]]:
        with self._lock:
            self._batched = []

        def flush() -> None:
            with self._lock:
                created = list(self._batched or [])
            self._write(created)  # raises before anything is forgotten
            with self._lock:
                self._batched = []

        try:
            yield flush
            flush()
        finally:
            with self._lock:
                self._batched = None

    def _write(self, created: Iterable[Job]) -> None:
        by_run: dict[str, list[Job]] = {}
        for job in created:
            by_run.setdefault(bill_folder(job.workflow_id), []).append(job)
        for folder, jobs in by_run.items():
            named = f"{self.WAITING}{folder}/{jobs[0].workflow_id.key}"
            body = records.batch(jobs)
            key = f"{named}.json"
            if self.bucket.put_json(key, body, only_if_absent=True) is None:
                # A batch redelivered with the same first workflow: a name of its own.
                key = f"{named}-{uuid.uuid4().hex}.json"
                self.bucket.put_json(key, body, only_if_absent=True)
            with about_workflow(jobs[0].workflow_id):  # the one the batch is named after
                log.info("%d job(s) of run %s wait for their answers (%s)", len(jobs), folder, key)

    # -- engine-complete ---------------------------------------------------------------

    def get(self, workflow_id: WorkflowId, customer_id: str | None = None) -> Job | None:
        folder, key = bill_folder(workflow_id), workflow_id.key

        def found() -> Job | None:
            job = self._index.find(folder, key, customer_id)
            return job if job is not None and customer_id in (None, job.customer_id) else None

        job = found()
        if job is None:
            with self._refreshing:  # one reader of a run's new objects at a time
                job = found() or (found() if self._read_named(folder, key) else None)
                if job is None:
                    self._refresh(folder)
                    job = found()
        # An id reused for another customer than the answer's: the first job.
        return job or self._index.find(folder, key, customer_id)

    def _read_named(self, folder: str, workflow_key: str) -> bool:
        """Read the object named after the workflow, if not read yet; whether it lists it."""
        key = f"{self.WAITING}{folder}/{workflow_key}.json"
        if self._index.has_read(folder, key):
            return False
        stored = self.bucket.get_json(key)
        if stored is None:
            return False
        jobs = _listed(stored)
        self._index.update(folder, [(key, jobs)])
        return any(job.workflow_id.key == workflow_key for job in jobs)

    def _refresh(self, folder: str) -> None:
        """Read the run's batch objects not read yet; forget those cleared away."""
        listed = set(self.bucket.names(f"{self.WAITING}{folder}/"))
        known = self._index.objects_read(folder)
        read = [(key, _listed(self.bucket.get_json(key))) for key in sorted(listed - known)]
        self._index.update(folder, read, cleared=known - listed)

    def close(self, workflow_id: WorkflowId) -> None:
        self._index.close(bill_folder(workflow_id), workflow_id.key)

    def fail(self, job: Job, reason: str, at: str) -> None:
        record = records.failure(job, reason, at)
        # The first failure's reason stays; the job waits no more either way.
        self.bucket.put_json(self._failed(job.workflow_id), record, only_if_absent=True)
        asked_again = [self._asked(job.workflow_id, n) for n in range(2, job.attempts + 1)]
        if asked_again:
            self.bucket.delete_many(asked_again)
        self.close(job.workflow_id)

    def failure(self, workflow_id: WorkflowId) -> Failure | None:
        record = self.bucket.get_json(self._failed(workflow_id))
        if record is None:
            return None
        return records.to_failure(record)

    # -- the sweep and the run status --------------------------------------------------

    def _ended(self, job: Job) -> bool:
        name = bill_name(job.customer_id, job.workflow_id)
        if self.bills.metadata(name) is not None:
            return True
        return self.bucket.metadata(self._failed(job.workflow_id)) is not None

    def ask_again(self, job: Job) -> bool:
        key = self._asked(job.workflow_id, job.attempts)
        if self.bucket.put_json(key, records.question(job), only_if_absent=True) is None:
            return False  # another sweep asked it first
        if self._ended(job):
            self.bucket.delete(key)  # answered since it was read: it waits no more
            return False
        return True

    def waiting(self, asked_before: datetime) -> Iterator[Job]:
        self._adopt_legacy_jobs()
        batches = self._batches_by_run()
        asked = self._asked_again()
        still_waiting: dict[str, Job] = {}
        ended: list[str] = []
        # A run at a time: the jobs that ended are dropped before the next run's are read.
        for folder, keys in batches.items():
            ended += self._sweep_run(folder, keys, still_waiting)
        # Questions of jobs that wait no more (billed while being asked again).
        ended += [
            key
            for workflow_key, questions in asked.items()
            if workflow_key not in still_waiting
            for _, key, _ in questions
        ]
        if ended:
            self.bucket.delete_many(ended)
        for workflow_key, job in still_waiting.items():
            questions = sorted(asked.get(workflow_key, []))
            # A batch object is written when its question is asked; a record per asking again.
            last = max([job.last_asked, *(when for _, _, when in questions)])
            if last >= asked_before:
                continue
            if questions:
                latest = self.bucket.get_json(questions[-1][1])
                if latest is not None:
                    job = records.to_asked(job, latest)
            yield job

    def _batches_by_run(self) -> dict[str, list[str]]:
        """The batch objects there are, by run folder (the sweep's copies of others dropped)."""
        keys = sorted(key for key, _modified, _size in self.bucket.objects(self.WAITING))
        for gone in set(self._swept) - set(keys):
            del self._swept[gone]
        by_run: dict[str, list[str]] = {}
        for key in keys:
            by_run.setdefault(key.removeprefix(self.WAITING).rpartition("/")[0], []).append(key)
        return by_run

    def _asked_again(self) -> dict[str, list[tuple[int, str, datetime]]]:
        """The questions the sweep asked again: {workflow key: [(attempt, key, time)]}."""
        asked: dict[str, list[tuple[int, str, datetime]]] = {}
        for key, modified, _size in self.bucket.objects(self.ASKED):
            workflow_key, _, name = key.removeprefix(self.ASKED).rpartition("/")
            attempt = name.removesuffix(".json")
            if attempt.isdigit():
                asked.setdefault(workflow_key, []).append((int(attempt), key, modified))
        return asked

    def _sweep_run(self, folder: str, keys: list[str], still_waiting: dict[str, Job]) -> list[str]:
        """Add the run's jobs with neither a bill nor a failure to ``still_waiting`` (the
        first of a reused id); return its batch objects all of whose jobs ended. Each object
        is read once ever: the sweep keeps the jobs of it that are still open."""
        batches = {
            key: self._swept[key] if key in self._swept else _listed(self.bucket.get_json(key))
            for key in keys
        }
        billed = self._billed(folder, [job for jobs in batches.values() for job in jobs])
        failed = self.failed_keys(_workflow_prefix(folder))
        ended: list[str] = []
        for key, jobs in batches.items():
            open_jobs = [
                job
                for job in jobs
                if bill_name(job.customer_id, job.workflow_id) not in billed
                and job.workflow_id.key not in failed
            ]
            # A bill or a failure is for good: the next sweep looks at the rest only.
            self._swept[key] = open_jobs
            if not open_jobs:
                ended.append(key)
            for job in open_jobs:
                first = still_waiting.get(job.workflow_id.key)
                if first is None or job.created_at < first.created_at:
                    still_waiting[job.workflow_id.key] = job
        return ended

    def _billed(self, folder: str, jobs: list[Job]) -> set[str]:
        """Which of the jobs' bills exist: a read of each if they are few (a run nearly
        done), else a listing of the run's bills (a request per 1,000)."""
        names = {bill_name(job.customer_id, job.workflow_id) for job in jobs}
        if len(names) > self.FEW_ENOUGH_TO_READ:
            # Kept as listed, a page at a time: a run's bills may be many more than its jobs.
            return {name for name in self.bills.names(f"{folder}/") if name in names}
        return {name for name in names if self.bills.metadata(name) is not None}

    def _adopt_legacy_jobs(self) -> None:
        """Jobs an earlier version kept one object each go into a batch object of their own,
        at the first sweep after the upgrade (a process's first): their answers may have
        found no job meanwhile, so the sweep asks again when due."""
        if self._adopted:
            return
        self._adopted = True
        for key in list(self.bucket.names(self.LEGACY_PENDING)):
            stored = self.bucket.get_json(key)
            if stored is not None:
                self._write([records.to_job(stored)])
            self.bucket.delete(key)

    def asked_keys(self, run_id: str) -> set[str]:
        with self._refreshing:
            self._refresh(run_id)
        return self._index.workflow_keys(run_id)

    def failed_keys(self, workflow_prefix: str) -> set[str]:
        return set(self.bucket.stems(self.FAILED, workflow_prefix))
