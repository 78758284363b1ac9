"""What engine-complete has read of the waiting jobs: by run, the batch objects read so far
and the jobs they list that it has not closed. It saves a read per answer; S3 stays the
truth, and a run forgotten here is read again when one of its answers comes."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Set
from dataclasses import dataclass, field

from functions.storage.base import Job

# Jobs of other processes' partitions are read too and never closed here, and a finished
# run's batches stay known so that a duplicate answer costs no read: past this many open
# jobs or runs, the runs read least recently are forgotten.
MAX_OPEN_JOBS = 100_000
MAX_RUNS = 10_000


@dataclass
class _Run:
    """A run's batch objects read so far, and the jobs they list not closed here."""

    objects: set[str] = field(default_factory=set)
    # workflow key -> [(object, job)], first created first
    jobs: dict[str, list[tuple[str, Job]]] = field(default_factory=dict)


class JobIndex:
    """Thread-safe. Only ``update`` and ``close`` change a run, and each keeps the count of
    open jobs that the limit is checked against."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: OrderedDict[str, _Run] = OrderedDict()
        self._open_jobs = 0

    def has_read(self, folder: str, key: str) -> bool:
        with self._lock:
            run = self._runs.get(folder)
            return run is not None and key in run.objects

    def objects_read(self, folder: str) -> set[str]:
        with self._lock:
            run = self._runs.get(folder)
            return set(run.objects) if run is not None else set()

    def find(self, folder: str, workflow_key: str, customer_id: str | None) -> Job | None:
        """The job of ``workflow_key`` for ``customer_id``, else its first job (an id reused
        for another customer), else None."""
        with self._lock:
            run = self._runs.get(folder)
            entries = run.jobs.get(workflow_key) if run else None
            if not entries:
                return None
            matching = [job for _, job in entries if job.customer_id == customer_id]
            return (matching or [entries[0][1]])[0]

    def workflow_keys(self, folder: str) -> set[str]:
        with self._lock:
            run = self._runs.get(folder)
            return set(run.jobs) if run is not None else set()

    def update(
        self,
        folder: str,
        read: Iterable[tuple[str, list[Job]]],
        cleared: Set[str] = frozenset(),
    ) -> None:
        """Add the batch objects just ``read`` with the jobs they list, and drop the objects
        the sweep has ``cleared`` away since, with their jobs."""
        with self._lock:
            run = self._runs.setdefault(folder, _Run())
            self._runs.move_to_end(folder)  # read most recently: forgotten last
            before = len(run.jobs)
            if cleared:
                run.objects -= cleared
                for workflow_key in list(run.jobs):
                    kept = [entry for entry in run.jobs[workflow_key] if entry[0] not in cleared]
                    if kept:
                        run.jobs[workflow_key] = kept
                    else:
                        del run.jobs[workflow_key]
            for key, jobs in read:
                run.objects.add(key)
                for job in jobs:
                    entries = run.jobs.setdefault(job.workflow_id.key, [])
                    entries.append((key, job))
                    entries.sort(key=lambda entry: entry[1].created_at)
            self._open_jobs += len(run.jobs) - before
            self._forget_least_recent()

    def close(self, folder: str, workflow_key: str) -> None:
        with self._lock:
            run = self._runs.get(folder)
            if run is not None and run.jobs.pop(workflow_key, None) is not None:
                self._open_jobs -= 1

    def _forget_least_recent(self) -> None:
        while len(self._runs) > 1 and (
            self._open_jobs > MAX_OPEN_JOBS or len(self._runs) > MAX_RUNS
        ):
            _, oldest = self._runs.popitem(last=False)
            self._open_jobs -= len(oldest.jobs)
