"""Unit tier: no network. S3 is moto's in-process mock."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

import boto3
import pytest
from moto import mock_aws
from prometheus_client import REGISTRY

import runtime.http
from functions.context import FunctionContext
from functions.errors import PublishFailed
from functions.messages import Outgoing
from functions.storage.bucket import Bucket
from functions.storage.s3 import S3BillStore, S3CustomerStore, S3JobStore
from runtime.config import Settings
from runtime.metrics import count_s3_requests
from runtime.services import Services

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
        count_s3_requests(client)
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


def s3_requests() -> float:
    """S3 requests made so far by every client the project built (its Prometheus counter)."""
    samples = (s for metric in REGISTRY.collect() for s in metric.samples)
    return sum(s.value for s in samples if s.name == "billing_s3_requests_total")


class RecordingPublisher:
    def __init__(self, fail: bool = False) -> None:
        self.published: list[Outgoing] = []
        self.fail = fail

    def publish(self, messages: Sequence[Outgoing]) -> None:
        if self.fail:
            raise PublishFailed("Kafka at 127.0.0.1:9092 did not acknowledge 1 of 1 message(s)")
        self.published.extend(messages)


@pytest.fixture
def services(
    s3: object, unit_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Services]:
    services = Services(unit_settings)
    services.s3 = s3  # type: ignore[assignment]
    services.publisher = RecordingPublisher()  # type: ignore[assignment]
    monkeypatch.setattr(runtime.http, "_services", services)
    yield services
