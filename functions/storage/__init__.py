"""Where the functions keep state: waiting and failed jobs, runs, bills and customers.

``base`` holds the small abstract stores the functions are written against;
``s3``, ``s3_jobs`` and ``s3_customers`` implement them on any S3-compatible storage
(AWS, S3Proxy, LocalStack, moto).
"""

from functions.storage.base import (
    BillStore,
    CustomerStore,
    Failure,
    IdempotencyRecord,
    Job,
    JobStore,
    Page,
    Run,
    RunStore,
    StoredBill,
)

__all__ = [
    "BillStore",
    "CustomerStore",
    "Failure",
    "IdempotencyRecord",
    "Job",
    "JobStore",
    "Page",
    "Run",
    "RunStore",
    "StoredBill",
]
