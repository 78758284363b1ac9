"""Moving what earlier versions kept to today's keys: explicit steps, run by
``python -m infra.provision`` (so by ``make up``) and never inside a read. Each is safe to
repeat, and to run while the functions work."""

from __future__ import annotations

import logging

from functions.storage import keys, records
from functions.storage.base import CustomerStore, JobBatchWriter
from functions.storage.bucket import in_parallel
from functions.storage.objects import Objects
from functions.wire.messages import Customer

log = logging.getLogger(__name__)


def adopt_legacy_pending_jobs(jobs: Objects, writer: JobBatchWriter) -> int:
    """Jobs kept one object each (``pending/<workflow>.json``, before the batches) go into
    a batch object of their own; how many moved. Their answers may have found no job
    meanwhile, so the sweep asks again when due."""
    legacy = list(jobs.names(keys.LEGACY_PENDING))
    for key in legacy:
        stored = jobs.get_json(key)
        if stored is not None:
            writer.create(records.to_job(stored))
        jobs.delete(key)
    if legacy:
        log.info("moved %d waiting job(s) from pending/ into batch objects", len(legacy))
    return len(legacy)


def move_legacy_customers(bucket: Objects, customers: CustomerStore) -> int:
    """Customers kept as ``customers/<id>.json`` (before the listing pages) go to their key
    in id order; how many moved. A customer already at its new key keeps what it has there."""
    legacy = list(bucket.files(keys.CUSTOMERS))

    def move(key: str) -> None:
        record = bucket.get_json(key)
        if record is not None:
            customers.add(Customer.from_wire(record))

    in_parallel(move, legacy)
    bucket.delete_many(legacy)
    if legacy:
        log.info("moved %d customer(s) to keys in id order", len(legacy))
    return len(legacy)


def index_customer_names(bucket: Objects, customers: CustomerStore) -> int:
    """Name keys for customers stored before the name search, once (``NAMES_INDEXED``
    marks it done); how many customers were indexed."""
    if bucket.metadata(keys.NAMES_INDEXED) is not None:
        return 0
    indexed, after = 0, ""
    while True:
        page = customers.page(after, 500)
        in_parallel(customers.index_names, page.items)
        indexed += len(page.items)
        if page.next_after is None:
            break
        after = page.next_after
    bucket.put_json(keys.NAMES_INDEXED, {"customers": indexed})
    if indexed:
        log.info("indexed the names of %d customer(s) for the search", indexed)
    return indexed
