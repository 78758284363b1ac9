"""The stores on S3-compatible storage, one object per job, bill and customer.

Creation uses conditional writes (``If-None-Match: *``), so a duplicate message or a
second engine instance can never overwrite a bill or reset a job.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from functions.errors import StorageUnavailable
from functions.messages import Customer, WorkflowId, safe_key
from functions.storage.base import BillStore, CustomerStore, Job, JobStore

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

    def get_bytes(self, key: str) -> bytes | None:
        try:
            response = self.client.get_object(Bucket=self.name, Key=key)
            body: bytes = response["Body"].read()
            return body
        except ClientError as exc:
            if exc.response["Error"]["Code"] in _MISSING:
                return None
            raise self._unavailable("read", key, exc) from exc
        except BotoCoreError as exc:
            raise self._unavailable("read", key, exc) from exc

    def put_bytes(
        self, key: str, body: bytes, content_type: str, *, only_if_absent: bool = False
    ) -> bool:
        extra: dict[str, Any] = {"IfNoneMatch": "*"} if only_if_absent else {}
        try:
            self.client.put_object(
                Bucket=self.name, Key=key, Body=body, ContentType=content_type, **extra
            )
            return True
        except ClientError as exc:
            if only_if_absent and exc.response["Error"]["Code"] in _ALREADY_THERE:
                return False
            raise self._unavailable("write", key, exc) from exc
        except BotoCoreError as exc:
            raise self._unavailable("write", key, exc) from exc

    def get_json(self, key: str) -> Mapping[str, Any] | None:
        body = self.get_bytes(key)
        return None if body is None else json.loads(body)

    def put_json(self, key: str, value: Mapping[str, Any], *, only_if_absent: bool = False) -> bool:
        body = json.dumps(value, separators=(",", ":")).encode()
        return self.put_bytes(key, body, "application/json", only_if_absent=only_if_absent)

    def keys(self, prefix: str = "") -> Iterator[str]:
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.name, Prefix=prefix
            )
            for page in pages:
                for item in page.get("Contents", []):
                    yield item["Key"]
        except (ClientError, BotoCoreError) as exc:
            raise self._unavailable("list", prefix + "*", exc) from exc


class S3JobStore(JobStore):
    PREFIX = "jobs/"

    def __init__(self, bucket: Bucket) -> None:
        self.bucket = bucket

    def _key(self, workflow_id: WorkflowId) -> str:
        return f"{self.PREFIX}{workflow_id.key}.json"

    def create(self, job: Job) -> Job:
        if self.bucket.put_json(self._key(job.workflow_id), job.to_json(), only_if_absent=True):
            return job
        stored = self.get(job.workflow_id)
        return stored if stored is not None else job

    def get(self, workflow_id: WorkflowId) -> Job | None:
        stored = self.bucket.get_json(self._key(workflow_id))
        return None if stored is None else Job.from_json(stored)

    def save(self, job: Job) -> None:
        self.bucket.put_json(self._key(job.workflow_id), job.to_json())


class S3BillStore(BillStore):
    def __init__(self, bucket: Bucket) -> None:
        self.bucket = bucket

    def create(self, name: str, text: str) -> bool:
        return self.bucket.put_bytes(
            name, text.encode(), "text/plain; charset=utf-8", only_if_absent=True
        )


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
        return self.bucket.put_json(key, customer.to_wire(), only_if_absent=True)

    def put(self, customer: Customer) -> None:
        self.bucket.put_json(self._key(customer.customer_id), customer.to_wire())
