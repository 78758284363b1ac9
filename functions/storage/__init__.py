"""Where the functions keep state: pending jobs, bills and customers.

``base`` holds the small abstract stores the functions are written against;
``s3`` implements them on any S3-compatible storage (AWS, LocalStack, moto).
"""

from functions.storage.base import BillStore, CustomerStore, Job, JobStatus, JobStore

__all__ = ["BillStore", "CustomerStore", "Job", "JobStatus", "JobStore"]
