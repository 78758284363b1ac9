"""Each HTTP function keeps to the OpenAPI description it serves at /openapi.json.

schemathesis reads the served description, makes requests from it (valid ones and
invalid ones), sends them to the function through functions-framework's own app, and
checks every answer against the description: status codes, headers, bodies, 401
without the token, 405 with ``Allow`` for methods a path does not take, never a 5xx.
Every operation but the description itself, in each phase that runs in-process: the
examples, the coverage phase's boundary cases, fuzzing, and (following the links the
coordinator's answers declare: a run started, then its status, retry and cancel)
the stateful phase.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.core.result import Ok

import functions.coordinator
import functions.crm_api
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
            # An Idempotency-Key used again for other customers is 422, as documented; a
            # retry of a run with no failure, or a cancel of a run that is done, is 409:
            # refusals of the run's state, not of the request.
            "positive_data_acceptance": {"expected-statuses": ["2xx", 401, 404, 409, 422]},
        },
    }
)
coordinator = schemathesis.openapi.from_wsgi("/openapi.json", APPS["coordinator"], config=CONFIG)
crm = schemathesis.openapi.from_wsgi("/openapi.json", APPS["crm"], config=CONFIG)
# The same cases on every run, so a red CI is reproducible; widen by raising the count.
EXAMPLES = settings(
    max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
SEQUENCES = settings(
    max_examples=25,
    stateful_step_count=4,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
CoordinatorCalls = coordinator.as_state_machine()


@pytest.fixture
def described(guarded: Harness, monkeypatch: pytest.MonkeyPatch) -> Harness:
    """The guarded functions, their stores writing into moto in place: what they write is
    there to read (through S3's API) as before, and the imports of 999 and 1,000 customers
    the coverage phase sends as boundaries take a second, not 3,000 requests each."""
    services = WritingInPlace(guarded.services.settings, s3=guarded.s3, publisher=guarded.publisher)
    monkeypatch.setattr(runtime.http, "_services", services)
    return Harness(services, guarded.publisher, guarded.s3)


def test_every_operation_is_tried() -> None:
    """Every declared operation is in a function's description, and schemathesis tries each
    (the console's and /metrics among them) but the description's own path."""
    for schema, api in ((coordinator, functions.coordinator.API), (crm, functions.crm_api.API)):
        tried = {r.ok().label for r in schema.get_all_operations() if isinstance(r, Ok)}
        assert {f"{op.method} {op.path}" for op in api.operations} < tried
        assert "GET /metrics" in tried


@coordinator.parametrize()
@EXAMPLES
def test_the_coordinator_keeps_to_its_description(case: Any, described: Harness) -> None:
    case.call_and_validate()


@crm.parametrize()
@EXAMPLES
def test_the_crm_keeps_to_its_description(case: Any, described: Harness) -> None:
    case.call_and_validate()


def test_the_coordinator_keeps_to_its_description_across_calls(described: Harness) -> None:
    CoordinatorCalls.run(settings=SEQUENCES)
