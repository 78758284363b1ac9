"""The stores on S3-compatible storage, one object per job, bill and customer.

Creation uses conditional writes (``If-None-Match: *``), so a duplicate message or a
second engine instance can never overwrite a bill or reset a job; a job changes only
if it is still as it was read (``If-Match: <ETag>``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from functions.errors import StorageUnavailable
from functions.messages import Customer, WorkflowId, safe_key
from functions.storage.base import (
    Asked,
    BillStore,
    CustomerStore,
    IdempotencyRecord,
    Job,
    JobStore,
    Run,
    RunStore,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_MISSING = {"NoSuchKey", "404", "NotFound"}
_ALREADY_THERE = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}


class Bucket:
    """One bucket through one boto3 client, with errors turned into ours."""

    def __init__(self, client: S3Client, name: str) -> None:
        self.client = client
        self.name = name

    def _unavailable(self, action: str, key: str, exc: Exception) -> StorageUnavailable:
        if isinstance(exc, ClientError) and exc.response["Error"]["Code"] == "NoSuchBucket":
            hint = "create it with `python -m infra.provision` (or `make up`)"
            return StorageUnavailable(f"S3 bucket {self.name!r} does not exist; {hint}")
        endpoint = self.client.meta.endpoint_url
        return StorageUnavailable(
            f"could not {action} s3://{self.name}/{key} at {endpoint}: {exc}. "
            "Check that the S3 server is running (`make up`) and S3_ENDPOINT_URL points at it."
        )

    def get_versioned(self, key: str) -> tuple[bytes, str] | None:
        """The object's bytes and its ETag, or None if there is no such object."""
        try:
            response = self.client.get_object(Bucket=self.name, Key=key)
            body: bytes = response["Body"].read()
            return body, response["ETag"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] in _MISSING:
                return None
            raise self._unavailable("read", key, exc) from exc
        except BotoCoreError as exc:
            raise self._unavailable("read", key, exc) from exc

    def get_bytes(self, key: str) -> bytes | None:
        found = self.get_versioned(key)
        return None if found is None else found[0]

    def put_bytes(
        self,
        key: str,
        body: bytes,
        content_type: str,
        *,
        only_if_absent: bool = False,
        only_if_version: str | None = None,
    ) -> str | None:
        """Write the object; its new ETag, or None if a condition did not hold."""
        extra: dict[str, Any] = {}
        if only_if_absent:
            extra["IfNoneMatch"] = "*"
        if only_if_version is not None:
            extra["IfMatch"] = only_if_version
        try:
            response = self.client.put_object(
                Bucket=self.name, Key=key, Body=body, ContentType=content_type, **extra
            )
            return response["ETag"]
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if extra and (code in _ALREADY_THERE or (only_if_version and code in _MISSING)):
                return None
            raise self._unavailable("write", key, exc) from exc
        except BotoCoreError as exc:
            raise self._unavailable("write", key, exc) from exc

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.name, Key=key)
        except (ClientError, BotoCoreError) as exc:
            raise self._unavailable("delete", key, exc) from exc

    def get_json(self, key: str) -> Mapping[str, Any] | None:
        body = self.get_bytes(key)
        return None if body is None else json.loads(body)

    def put_json(
        self,
        key: str,
        value: Mapping[str, Any],
        *,
        only_if_absent: bool = False,
        only_if_version: str | None = None,
    ) -> str | None:
        body = json.dumps(value, separators=(",", ":")).encode()
        return self.put_bytes(
            key,
            body,
            "application/json",
            only_if_absent=only_if_absent,
            only_if_version=only_if_version,
        )

    def listing(self, prefix: str = "") -> Iterator[tuple[str, datetime]]:
        """Each object's key and last-modified time, in key order."""
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.name, Prefix=prefix
            )
            for page in pages:
                for item in page.get("Contents", []):
                    yield item["Key"], item["LastModified"]
        except (ClientError, BotoCoreError) as exc:
            raise self._unavailable("list", prefix + "*", exc) from exc

    def keys(self, prefix: str = "") -> Iterator[str]:
        return (key for key, _ in self.listing(prefix))


class S3JobStore(JobStore):
    """``jobs/<workflow>.json`` holds a job; ``asked/<workflow>.json`` exists while its
    question waits for an answer, so finding unanswered questions costs a listing of
    the few in flight, not of every job ever run."""

    PREFIX = "jobs/"
    ASKED = "asked/"

    def __init__(self, bucket: Bucket) -> None:
        self.bucket = bucket

    def _key(self, workflow_id: WorkflowId) -> str:
        return f"{self.PREFIX}{workflow_id.key}.json"

    def _asked_key(self, workflow_id: WorkflowId) -> str:
        return f"{self.ASKED}{workflow_id.key}.json"

    def create(self, job: Job) -> Job:
        version = self.bucket.put_json(
            self._key(job.workflow_id), job.to_json(), only_if_absent=True
        )
        if version is not None:
            return replace(job, version=version)
        stored = self.get(job.workflow_id)
        return stored if stored is not None else job

    def get(self, workflow_id: WorkflowId) -> Job | None:
        found = self.bucket.get_versioned(self._key(workflow_id))
        if found is None:
            return None
        body, version = found
        return replace(Job.from_json(json.loads(body)), version=version)

    def update(self, job: Job) -> bool:
        if job.version is None:
            raise ValueError("update needs a job read from the store (it has no version)")
        key = self._key(job.workflow_id)
        return self.bucket.put_json(key, job.to_json(), only_if_version=job.version) is not None

    def ask(self, asked: Asked) -> None:
        record = {
            "workflowId": asked.workflow_id.wire,
            "attempts": asked.attempts,
            "askedAt": asked.asked_at.isoformat(),
        }
        self.bucket.put_json(self._asked_key(asked.workflow_id), record)

    def answered(self, workflow_id: WorkflowId) -> None:
        self.bucket.delete(self._asked_key(workflow_id))

    def unanswered(self, asked_before: datetime) -> Iterator[Asked]:
        for key, modified in self.bucket.listing(self.ASKED):
            if modified >= asked_before:
                continue
            record = self.bucket.get_json(key)
            if record is None:  # answered since the listing
                continue
            yield Asked(
                WorkflowId(record["workflowId"]),
                int(record["attempts"]),
                datetime.fromisoformat(record["askedAt"]),
            )


class S3RunStore(RunStore):
    """``runs/<run id>.json`` and ``idempotency/<digest of the key>.json``."""

    RUNS = "runs/"
    KEYS = "idempotency/"

    def __init__(self, bucket: Bucket) -> None:
        self.bucket = bucket

    def claim(self, idempotency_key: str, record: IdempotencyRecord) -> IdempotencyRecord:
        # Digesting the key keeps any text a client sends out of the object's name.
        key = self.KEYS + hashlib.sha256(idempotency_key.encode()).hexdigest() + ".json"
        value = {"runId": record.run_id, "requestDigest": record.request_digest}
        if self.bucket.put_json(key, value, only_if_absent=True) is not None:
            return record
        stored = self.bucket.get_json(key)
        if stored is None:  # vanished between the two calls; claim again
            return self.claim(idempotency_key, record)
        return IdempotencyRecord(stored["runId"], stored["requestDigest"])

    def get(self, run_id: str) -> Run | None:
        stored = self.bucket.get_json(f"{self.RUNS}{safe_key(run_id)}.json")
        return None if stored is None else Run.from_json(stored)

    def save(self, run: Run) -> None:
        self.bucket.put_json(f"{self.RUNS}{safe_key(run.run_id)}.json", run.to_json())


class S3BillStore(BillStore):
    def __init__(self, bucket: Bucket) -> None:
        self.bucket = bucket

    def create(self, name: str, text: str) -> bool:
        created = self.bucket.put_bytes(
            name, text.encode(), "text/plain; charset=utf-8", only_if_absent=True
        )
        return created is not None


class S3CustomerStore(CustomerStore):
    PREFIX = "customers/"

    def __init__(self, bucket: Bucket) -> None:
        self.bucket = bucket

    def _key(self, customer_id: str) -> str:
        return f"{self.PREFIX}{safe_key(customer_id)}.json"

    def get(self, customer_id: str) -> Customer | None:
        stored = self.bucket.get_json(self._key(customer_id))
        return None if stored is None else Customer.from_wire(stored)

    def all(self) -> list[Customer]:
        customers = []
        for key in self.bucket.keys(self.PREFIX):
            stored = self.bucket.get_json(key)
            if stored is not None:
                customers.append(Customer.from_wire(stored))
        return customers

    def numeric_ids(self) -> list[int]:
        # A numeric id is a safe key, so it stands in the object's name as it is.
        stems = (
            key.removeprefix(self.PREFIX).removesuffix(".json")
            for key in self.bucket.keys(self.PREFIX)
        )
        return [int(stem) for stem in stems if stem.isdigit()]

    def add(self, customer: Customer) -> bool:
        key = self._key(customer.customer_id)
        return self.bucket.put_json(key, customer.to_wire(), only_if_absent=True) is not None

    def put(self, customer: Customer) -> None:
        self.bucket.put_json(self._key(customer.customer_id), customer.to_wire())
