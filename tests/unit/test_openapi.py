"""Each HTTP function keeps to the OpenAPI description it serves at /openapi.json.

schemathesis reads the served description, makes requests from it (valid ones and
invalid ones), sends them to the function through functions-framework's own app, and
checks every answer against the description: status codes, headers, bodies, 401
without the token, 405 with ``Allow`` for methods a path does not take, never a 5xx.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

import runtime.http
from tests.unit.harness import TOKEN, Harness, WritingInPlace, app

# The apps find their stores when called, so the `described` fixture's (moto) are used.
APPS = {target: app(target) for target in ("coordinator", "crm")}
CONFIG = schemathesis.Config.from_dict(
    {
        "auth": {"openapi": {"bearer": {"bearer": TOKEN}}},
        # The coverage phase builds its boundary cases while pytest collects; for a run of
        # up to 10,000 customers that takes a minute, so that one operation goes without.
        "operations": [
            {"include-operation-id": "startRun", "phases": {"coverage": {"enabled": False}}}
        ],
        "checks": {
            # Too many customers in a run is 413 (Content Too Large), as documented.
            "negative_data_rejection": {"expected-statuses": [400, 401, 404, 405, 413, 415]},
            # An Idempotency-Key used again for other customers is 422, as documented.
            "positive_data_acceptance": {"expected-statuses": ["2xx", 401, 404, 422]},
        },
    }
)
coordinator = schemathesis.openapi.from_wsgi("/openapi.json", APPS["coordinator"], config=CONFIG)
crm = schemathesis.openapi.from_wsgi("/openapi.json", APPS["crm"], config=CONFIG)
# The same cases on every run, so a red CI is reproducible; widen by raising the count.
EXAMPLES = settings(
    max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)


@pytest.fixture
def described(guarded: Harness, monkeypatch: pytest.MonkeyPatch) -> Harness:
    """The guarded functions, their stores writing into moto in place: what they write is
    there to read (through S3's API) as before, and the imports of 999 and 1,000 customers
    the coverage phase sends as boundaries take a second, not 3,000 requests each."""
    services = WritingInPlace(guarded.services.settings, s3=guarded.s3, publisher=guarded.publisher)
    monkeypatch.setattr(runtime.http, "_services", services)
    return Harness(services, guarded.publisher, guarded.s3)


@coordinator.parametrize()
@EXAMPLES
def test_the_coordinator_keeps_to_its_description(case: Any, described: Harness) -> None:
    case.call_and_validate()


@crm.parametrize()
@EXAMPLES
def test_the_crm_keeps_to_its_description(case: Any, described: Harness) -> None:
    case.call_and_validate()
