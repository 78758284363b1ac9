"""Where the functions keep state: waiting and failed jobs, runs, bills and customers.

``base`` holds the small abstract stores the functions are written against, one a role;
the ``s3*`` modules implement them on any S3-compatible storage (AWS, S3Proxy,
LocalStack, moto); ``keys`` names every object they keep.
"""

from functions.storage.base import (
    CANCELLED,
    AnswerJobFinder,
    BatchScoped,
    BillStore,
    CustomerStore,
    Failure,
    Job,
    JobBatchWriter,
    JobFailures,
    OverdueJobSweep,
    Page,
    RunProgress,
    StoredBill,
)
from functions.storage.run_records import (
    Cancellation,
    IdempotencyRecord,
    RetrySlot,
    Run,
    RunCancellations,
    RunStore,
    RunSummary,
    TickPage,
    TickPlans,
)

__all__ = [
    "CANCELLED",
    "AnswerJobFinder",
    "BatchScoped",
    "BillStore",
    "Cancellation",
    "CustomerStore",
    "Failure",
    "IdempotencyRecord",
    "Job",
    "JobBatchWriter",
    "JobFailures",
    "OverdueJobSweep",
    "Page",
    "RetrySlot",
    "Run",
    "RunCancellations",
    "RunProgress",
    "RunStore",
    "RunSummary",
    "StoredBill",
    "TickPage",
    "TickPlans",
]
