"""engine-complete's way to an answer's waiting job on S3.

The job is looked for among the batch objects of its run already read (``JobIndex``),
else in the object named after its workflow (a lone question's answer costs one read),
else by listing the run's objects and reading the new ones: a batch's worth of answers
costs one listing and a read of each new batch object, and a bill no request of its own.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from functions.storage import keys, records
from functions.storage.base import AnswerJobFinder, Job
from functions.storage.job_index import JobIndex
from functions.storage.objects import Objects
from functions.wire.identifiers import WorkflowId


def listed_jobs(stored: Mapping[str, Any] | None) -> list[Job]:
    """The jobs a batch object lists; none if it was cleared away before it was read."""
    return records.to_jobs(stored) if stored is not None else []


class S3AnswerJobFinder(AnswerJobFinder):
    def __init__(self, bucket: Objects) -> None:
        self.bucket = bucket
        self._refreshing = threading.Lock()
        self._index = JobIndex()

    def find(self, workflow_id: WorkflowId, customer_id: str | None = None) -> Job | None:
        folder, key = keys.run_folder(workflow_id), workflow_id.key

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

    def close(self, workflow_id: WorkflowId) -> None:
        self._index.close(keys.run_folder(workflow_id), workflow_id.key)

    def _read_named(self, folder: str, workflow_key: str) -> bool:
        """Read the object named after the workflow, if not read yet; whether it lists it."""
        key = keys.waiting_batch(folder, workflow_key)
        if self._index.has_read(folder, key):
            return False
        stored = self.bucket.get_json(key)
        if stored is None:
            return False
        jobs = listed_jobs(stored)
        self._index.update(folder, [(key, jobs)])
        return any(job.workflow_id.key == workflow_key for job in jobs)

    def _refresh(self, folder: str) -> None:
        """Read the run's batch objects not read yet; forget those cleared away."""
        listed = set(self.bucket.names(keys.waiting_jobs_of(folder)))
        known = self._index.objects_read(folder)
        read = [(key, listed_jobs(self.bucket.get_json(key))) for key in sorted(listed - known)]
        self._index.update(folder, read, cleared=known - listed)
