"""Where the functions keep state: waiting and failed jobs, runs, bills and customers.

``base`` holds the small abstract stores the functions are written against, one a role;
the ``s3*`` modules implement them on any S3-compatible storage (AWS, S3Proxy,
LocalStack, moto); ``keys`` names every object they keep.
"""

from functions.storage.base import (
    AnswerJobFinder,
    BillStore,
    CustomerStore,
    Failure,
    IdempotencyRecord,
    Job,
    JobBatchWriter,
    JobFailures,
    OverdueJobSweep,
    Page,
    Run,
    RunProgress,
    RunStore,
    StoredBill,
)

__all__ = [
    "AnswerJobFinder",
    "BillStore",
    "CustomerStore",
    "Failure",
    "IdempotencyRecord",
    "Job",
    "JobBatchWriter",
    "JobFailures",
    "OverdueJobSweep",
    "Page",
    "Run",
    "RunProgress",
    "RunStore",
    "StoredBill",
]
