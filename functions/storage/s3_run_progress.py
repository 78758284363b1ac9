"""The coordinator's view of how far a run is, on S3: which of its workflows asked their
question. Its bills and failures are listed by their own stores.

A run's batch objects of waiting jobs never change once written, so each is read once;
what the sweep cleared away is forgotten at the next listing.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from functions.storage import keys
from functions.storage.base import RunProgress
from functions.storage.objects import Objects
from functions.storage.s3_job_finder import listed_jobs

# Runs whose batch objects are kept read, the least recently asked about forgotten first.
MAX_RUNS_KEPT = 100


class S3RunProgress(RunProgress):
    def __init__(self, bucket: Objects) -> None:
        self.bucket = bucket
        self._lock = threading.Lock()
        # run -> batch object -> the workflow keys it lists
        self._read: OrderedDict[str, dict[str, set[str]]] = OrderedDict()

    def asked_keys(self, run_id: str) -> set[str]:
        listed = set(self.bucket.names(keys.waiting_jobs_of(run_id)))
        with self._lock:
            known = dict(self._read.get(run_id, {}))
        for key in sorted(listed - set(known)):
            known[key] = {job.workflow_id.key for job in listed_jobs(self.bucket.get_json(key))}
        kept = {key: workflows for key, workflows in known.items() if key in listed}
        with self._lock:
            self._read[run_id] = kept
            self._read.move_to_end(run_id)
            while len(self._read) > MAX_RUNS_KEPT:
                self._read.popitem(last=False)
        return set().union(*kept.values())

    def any_waiting(self, run_id: str) -> bool:
        return next(iter(self.bucket.names(keys.waiting_jobs_of(run_id))), None) is not None
