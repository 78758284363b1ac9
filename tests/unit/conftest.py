"""Unit tier: no network. The stores keep their objects in memory (``MemoryBucket``):
``context``, ``harness`` and ``guarded``. The tests that need S3 itself (its faults, its
request counts, the S3 adapters) take the same on moto's in-process mock: ``s3_context``,
``s3_harness``, and ``s3`` the client."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest
from moto import mock_aws

import runtime.http
from functions.context import FunctionContext
from functions.http.operation import Operation
from functions.storage.memory_bucket import MemoryBuckets
from runtime.config import FunctionSettings
from runtime.logs import JsonFormatter
from runtime.oidc import JwksKeys, JwtVerifier
from runtime.services import Services, s3_client
from tests.helpers.oidc import AUDIENCE, CountingFetch, Issuer
from tests.unit.callers import Clock
from tests.unit.harness import NOW, TOKEN, TOKENS_BUCKET, Harness, RecordingPublisher, S3Harness

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
def buckets() -> MemoryBuckets:
    """The test's buckets in memory, empty: every ``Services`` given them shares them."""
    return MemoryBuckets()


@pytest.fixture
def context(buckets: MemoryBuckets, unit_settings: FunctionSettings) -> FunctionContext:
    """The functions' stores, in memory."""
    return replace(Services(unit_settings, buckets=buckets).context, clock=lambda: NOW)


@pytest.fixture
def s3_context(s3: S3Client, unit_settings: FunctionSettings) -> FunctionContext:
    """The functions' stores, on moto."""
    return replace(Services(unit_settings, s3=s3).context, clock=lambda: NOW)


@pytest.fixture
def harness(
    buckets: MemoryBuckets, unit_settings: FunctionSettings, monkeypatch: pytest.MonkeyPatch
) -> Harness:
    """The HTTP functions, as functions-framework loads them, on buckets in memory and a
    recorder."""
    publisher = RecordingPublisher()
    services = Services(unit_settings, buckets=buckets, publisher=publisher)
    monkeypatch.setattr(runtime.http, "_services", services)
    return Harness(services, publisher)


@pytest.fixture
def s3_harness(
    s3: S3Client, unit_settings: FunctionSettings, monkeypatch: pytest.MonkeyPatch
) -> S3Harness:
    """The HTTP functions, as functions-framework loads them, on moto and a recorder."""
    publisher = RecordingPublisher()
    services = Services(unit_settings, s3=s3, publisher=publisher)
    monkeypatch.setattr(runtime.http, "_services", services)
    return S3Harness(services, publisher, s3)


@pytest.fixture
def guarded(harness: Harness) -> Harness:
    """The harness with bearer auth on: both functions want a token, ``TOKEN`` (the
    environment's, an admin's) or a named token of the tokens bucket (``TOKENS_BUCKET``)."""
    harness.services.settings = replace(
        harness.services.settings, auth_token=TOKEN, tokens_bucket=TOKENS_BUCKET
    )
    return harness


@pytest.fixture
def s3_guarded(s3_harness: S3Harness) -> S3Harness:
    """``guarded`` on moto: for what counts S3's requests or makes them fail."""
    s3_harness.s3.create_bucket(Bucket=TOKENS_BUCKET)
    s3_harness.services.settings = replace(
        s3_harness.services.settings, auth_token=TOKEN, tokens_bucket=TOKENS_BUCKET
    )
    return s3_harness


@pytest.fixture(scope="session")
def issuer() -> Issuer:
    """An OpenID Connect issuer of the tests' own: its keys are made once a worker."""
    return Issuer()


@pytest.fixture
def oidc_guarded(guarded: Harness, issuer: Issuer) -> Harness:
    """``guarded`` taking ``issuer``'s JWTs too (OIDC_ISSUER), its keys read through a
    fetch of the test's own, no network."""
    services = guarded.services
    services.settings = replace(
        services.settings, oidc_issuer=issuer.issuer, oidc_audience=AUDIENCE
    )
    keys = JwksKeys(issuer.issuer, fetch=CountingFetch(issuer))
    services.jwt_verifier = JwtVerifier(issuer.issuer, AUDIENCE, "roles", keys)
    return guarded


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Everything logged meanwhile, through the JSON formatter with ``TOKEN`` as its secret
    (a named token it knows by its form alone)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("test", [TOKEN]))
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture
def ticking_clock(guarded: Harness) -> Clock:
    """The guarded functions' clock, moving a second each time it is read: each record of
    the audit, each token, each run at its own second."""
    ticking = Clock()
    guarded.services._clock = ticking
    guarded.services.context  # noqa: B018 (built before the clock would be read)
    return ticking
