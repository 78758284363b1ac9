"""Where the functions keep state: jobs, waiting questions, runs, bills and customers.

``base`` holds the small abstract stores the functions are written against;
``s3`` implements them on any S3-compatible storage (AWS, LocalStack, moto).
"""

from functions.storage.base import (
    Asked,
    BillStore,
    CustomerStore,
    IdempotencyRecord,
    Job,
    JobStatus,
    JobStore,
    Run,
    RunStore,
)

__all__ = [
    "Asked",
    "BillStore",
    "CustomerStore",
    "IdempotencyRecord",
    "Job",
    "JobStatus",
    "JobStore",
    "Run",
    "RunStore",
]
