"""Unit tier: no network. S3 is moto's in-process mock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest
from moto import mock_aws

from functions.context import FunctionContext
from functions.storage.s3 import Bucket, S3BillStore, S3CustomerStore, S3JobStore
from runtime.config import Settings

NOW = datetime(2021, 3, 23, 18, 21, 47, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def unit_settings() -> Settings:
    return Settings(s3_endpoint_url=None)


@pytest.fixture
def s3(unit_settings: Settings) -> Iterator[object]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        for bucket in unit_settings.all_buckets:
            client.create_bucket(Bucket=bucket)
        yield client


@pytest.fixture
def context(s3: object, unit_settings: Settings) -> FunctionContext:
    return FunctionContext(
        jobs=S3JobStore(Bucket(s3, unit_settings.jobs_bucket)),  # type: ignore[arg-type]
        bills=S3BillStore(Bucket(s3, unit_settings.bills_bucket)),  # type: ignore[arg-type]
        customers=S3CustomerStore(Bucket(s3, unit_settings.customers_bucket)),  # type: ignore[arg-type]
        clock=lambda: NOW,
    )
