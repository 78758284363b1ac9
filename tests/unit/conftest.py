"""Unit tier: no network. S3 is moto's in-process mock."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest
from moto import mock_aws

import runtime.http
from functions.context import FunctionContext
from functions.http.operation import Operation
from runtime.config import FunctionSettings
from runtime.services import Services, s3_client
from tests.unit.harness import NOW, TOKEN, TOKENS_BUCKET, Harness, RecordingPublisher

# Every answer a handler makes in this tier is validated against its declared type.
Operation.answers_checked = True

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def unit_settings() -> FunctionSettings:
    """A function's settings: the ones the HTTP functions and the triggers are given."""
    # A run seen running is looked at again in the next batch, whatever the time.
    return FunctionSettings(s3_endpoint_url=None, cancel_check_s=0)


@pytest.fixture(scope="session")
def _s3_client() -> S3Client:
    """One S3 client for the whole tier, built as the functions build theirs for AWS
    (counted, traced, its timestamps parsed by the standard library). Building one costs a
    third of a second (botocore reads its S3 model again for each new session), which every
    test paid when each built its own."""
    with mock_aws():
        return s3_client(FunctionSettings(s3_endpoint_url=None))


@pytest.fixture
def s3(_s3_client: S3Client, unit_settings: FunctionSettings) -> Iterator[S3Client]:
    """Empty buckets on moto: its mock starts afresh for each test (everything stored
    before is gone), and the session's client talks to it."""
    with mock_aws():
        for bucket in unit_settings.all_buckets:
            _s3_client.create_bucket(Bucket=bucket)
        yield _s3_client


@pytest.fixture
def context(s3: S3Client, unit_settings: FunctionSettings) -> FunctionContext:
    return replace(Services(unit_settings, s3=s3).context, clock=lambda: NOW)


@pytest.fixture
def harness(
    s3: S3Client, unit_settings: FunctionSettings, monkeypatch: pytest.MonkeyPatch
) -> Harness:
    """The HTTP functions, as functions-framework loads them, on moto and a recorder."""
    publisher = RecordingPublisher()
    services = Services(unit_settings, s3=s3, publisher=publisher)
    monkeypatch.setattr(runtime.http, "_services", services)
    return Harness(services, publisher, s3)


@pytest.fixture
def guarded(harness: Harness) -> Harness:
    """The harness with bearer auth on: both functions want a token, ``TOKEN`` (the
    environment's, an admin's) or a named token of the tokens bucket (``TOKENS_BUCKET``)."""
    harness.s3.create_bucket(Bucket=TOKENS_BUCKET)
    harness.services.settings = replace(
        harness.services.settings, auth_token=TOKEN, tokens_bucket=TOKENS_BUCKET
    )
    return harness
