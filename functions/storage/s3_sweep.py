"""retry-unanswered's view of the waiting jobs on S3, and its record of questions asked again.

A job waits while a batch object lists it and it has neither a bill nor a failure: its
bill is its completion. The sweep reads each batch object once ever and keeps the jobs
of it still open; it clears an object away once every job it lists has ended. Asking
question n again creates ``asked/<workflow>/<n>.json``: of two sweeps, one asks.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from functions.storage import keys, records
from functions.storage.base import Job, JobFailures, OverdueJobSweep
from functions.storage.objects import Objects
from functions.storage.s3_job_finder import listed_jobs

Asked = dict[str, list[tuple[int, str, datetime]]]  # workflow key -> [(attempt, key, time)]


class S3OverdueJobSweep(OverdueJobSweep):
    FEW_ENOUGH_TO_READ = 20  # open jobs of a run whose bills the sweep reads one by one

    def __init__(self, jobs: Objects, bills: Objects, failures: JobFailures) -> None:
        self.jobs = jobs
        self.bills = bills
        self.failures = failures
        # Every batch object read so far, with its jobs still open: objects never change.
        self._swept: dict[str, list[Job]] = {}

    def ask_again(self, job: Job) -> bool:
        key = keys.asked_question(job.workflow_id.key, job.attempts)
        record = records.question(job)
        # Another sweep asked it first, unless what is there is ours: a create whose answer
        # was lost, which the client tried again.
        created = self.jobs.put_json(key, record, only_if_absent=True) is not None
        if not created and self.jobs.get_json(key) != record:
            return False
        if self._ended(job):
            self.jobs.delete(key)  # answered since it was read: it waits no more
            return False
        return True

    def _ended(self, job: Job) -> bool:
        if self.bills.metadata(job.bill_name) is not None:
            return True
        return self.failures.exists(job.workflow_id)

    def waiting(self, asked_before: datetime) -> Iterator[Job]:
        batches = self._batches_by_run()
        asked = self._asked_again()
        still_waiting: dict[str, Job] = {}
        ended: list[str] = []
        # A run at a time: the jobs that ended are dropped before the next run's are read.
        for folder, batch_keys in batches.items():
            ended += self._sweep_run(folder, batch_keys, still_waiting)
        # Questions of jobs that wait no more (billed while being asked again).
        ended += [
            key
            for workflow_key, questions in asked.items()
            if workflow_key not in still_waiting
            for _, key, _ in questions
        ]
        if ended:
            self.jobs.delete_many(ended)
        for workflow_key, job in still_waiting.items():
            questions = sorted(asked.get(workflow_key, []))
            # A batch object is written when its question is asked; a record per asking again.
            last = max([job.last_asked, *(when for _, _, when in questions)])
            if last >= asked_before:
                continue
            if questions:
                latest = self.jobs.get_json(questions[-1][1])
                if latest is not None:
                    job = records.to_asked(job, latest)
            yield job

    def _batches_by_run(self) -> dict[str, list[str]]:
        """The batch objects there are, by run folder (the copies of others dropped)."""
        batch_keys = sorted(key for key, _modified, _size in self.jobs.objects(keys.WAITING))
        for gone in set(self._swept) - set(batch_keys):
            del self._swept[gone]
        by_run: dict[str, list[str]] = {}
        for key in batch_keys:
            by_run.setdefault(keys.folder_of_batch(key), []).append(key)
        return by_run

    def _asked_again(self) -> Asked:
        asked: Asked = {}
        for key, modified, _size in self.jobs.objects(keys.ASKED):
            parsed = keys.parse_asked(key)
            if parsed is not None:
                workflow_key, attempt = parsed
                asked.setdefault(workflow_key, []).append((attempt, key, modified))
        return asked

    def _sweep_run(
        self, folder: str, batch_keys: list[str], still_waiting: dict[str, Job]
    ) -> list[str]:
        """Add the run's jobs with neither a bill nor a failure to ``still_waiting`` (the
        first of a reused id); return its batch objects all of whose jobs ended."""
        batches = {
            key: self._swept[key] if key in self._swept else listed_jobs(self.jobs.get_json(key))
            for key in batch_keys
        }
        billed = self._billed([job for jobs in batches.values() for job in jobs])
        failed = self.failures.workflow_keys(keys.workflow_prefix(folder))
        ended: list[str] = []
        for key, jobs in batches.items():
            open_jobs = [
                job
                for job in jobs
                if job.bill_name not in billed and job.workflow_id.key not in failed
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

    def _billed(self, jobs: list[Job]) -> set[str]:
        """Which of the jobs' bills exist: a read of each if they are few (a run nearly
        done), else a listing of the part of their folder they span (a request per 1,000;
        a run's jobs share a lineage and a period, so their bills share a folder, which may
        hold many more bills than the run: a period's)."""
        return self.bills.existing({job.bill_name for job in jobs}, self.FEW_ENOUGH_TO_READ)
