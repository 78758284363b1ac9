"""engine-start's waiting jobs on S3: one object per batch and run, written once.

``waiting/<run>/<first workflow>.json`` lists the jobs whose first question one batch
asked, named after the first of them. It is written before any of the batch's questions
leaves (the trigger declares it, ``runtime/triggers.py``), so an answer always finds its job.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator

from functions.log_context import about_workflow
from functions.storage import keys, records
from functions.storage.base import Job, JobBatchWriter
from functions.storage.objects import Objects

log = logging.getLogger(__name__)


class S3JobBatchWriter(JobBatchWriter):
    def __init__(self, bucket: Objects) -> None:
        self.bucket = bucket
        self._lock = threading.Lock()
        self._held: list[Job] | None = None

    def create(self, job: Job) -> None:
        with self._lock:
            if self._held is not None:
                self._held.append(job)
                return
        self.write([job])

    @contextlib.contextmanager
    def batch(self) -> Iterator[Callable[[], None]]:
        with self._lock:
            self._held = []

        def flush() -> None:
            with self._lock:
                created = list(self._held or [])
            self.write(created)  # raises before anything is forgotten
            with self._lock:
                self._held = []

        try:
            yield flush
            flush()
        finally:
            with self._lock:
                self._held = None

    def write(self, created: Iterable[Job]) -> None:
        """One object per run among the jobs, each a create that never overwrites."""
        by_run: dict[str, list[Job]] = {}
        for job in created:
            by_run.setdefault(keys.run_folder(job.workflow_id), []).append(job)
        for folder, jobs in by_run.items():
            first = jobs[0].workflow_id.key
            body = records.batch(jobs)
            key = keys.waiting_batch(folder, first)
            if self.bucket.put_json(key, body, only_if_absent=True) is None:
                # A batch redelivered with the same first workflow: a name of its own.
                key = keys.waiting_batch(folder, first, uuid.uuid4().hex)
                self.bucket.put_json(key, body, only_if_absent=True)
            with about_workflow(jobs[0].workflow_id):  # the one the batch is named after
                log.info("%d job(s) of run %s wait for their answers (%s)", len(jobs), folder, key)
