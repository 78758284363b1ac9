"""Each HTTP function keeps to the OpenAPI description it serves at /openapi.json.

schemathesis reads the served description, makes requests from it (valid ones and
invalid ones), sends them to the function through functions-framework's own app, and
checks every answer against the description: status codes, headers, bodies, 401
without the token, 405 with ``Allow`` for methods a path does not take, never a 5xx.
Every operation but the description itself, in each phase that runs in-process: the
examples, the coverage phase's boundary cases, fuzzing, and (following the links the
coordinator's answers declare: a run started, then its status, retry and cancel)
the stateful phase.

And by hand, where schemathesis cannot judge: a value is taken exactly when the
description takes it, its patterns read as JSON Schema reads them (ECMAScript's regular
expressions, whose digits are ASCII's), and the description names what the answers carry.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.core.result import Ok

import functions.crm.api
import functions.runs.coordinator
from tests.helpers.lab import ADA
from tests.unit.harness import TOKEN, Harness, app, client

# The apps find their stores when called, so the `described` fixture's (in memory) are used.
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
def described(guarded: Harness) -> Harness:
    """The guarded functions, their stores in memory: the imports of 999 and 1,000
    customers the coverage phase sends as boundaries take a moment, not 3,000 requests
    each (on moto they were written in place for that)."""
    return guarded


def test_every_operation_is_tried() -> None:
    """Every declared operation is in a function's description, and schemathesis tries each
    (the console's and /metrics among them) but the description's own path."""
    for schema, api in (
        (coordinator, functions.runs.coordinator.API),
        (crm, functions.crm.api.API),
    ):
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


# A run id written in Arabic-Indic digits: Python's `\d` takes them, ECMAScript's does not.
ARABIC_INDIC = str.maketrans("0123456789", "".join(chr(0x660 + n) for n in range(10)))
UNICODE_DIGITS_RUN = "run-20261128T001500".translate(ARABIC_INDIC) + "-0a1b2c3d"


def _document(function: str) -> dict[str, Any]:
    described: dict[str, Any] = client(function).get("/openapi.json").get_json()
    return described


def _query_schema(function: str, path: str, name: str) -> dict[str, Any]:
    operation = _document(function)["paths"][path]["get"]
    [parameter] = [p for p in operation["parameters"] if p["name"] == name]
    schema: dict[str, Any] = parameter["schema"]
    return schema


def _matches(pattern: str, text: str) -> bool:
    """Whether ``text`` matches a document's ``pattern`` as JSON Schema reads it: an
    ECMAScript regex, whose ``\\d`` is the ASCII digits and whose ``$`` is the end (Python's
    also takes the place before a last newline)."""
    ecmascript = re.sub(r"(?<!\\)\$$", r"\\Z", pattern)
    return re.search(ecmascript, text, re.ASCII) is not None


def test_a_run_id_in_other_digits_is_refused_as_the_document_says(
    harness: Harness,
) -> None:
    assert not _matches(
        _query_schema("coordinator", "/runs", "after")["pattern"], UNICODE_DIGITS_RUN
    )
    listed = client("coordinator").get(f"/runs?after={UNICODE_DIGITS_RUN}")
    assert listed.status_code == 400, listed.get_json()
    assert "after" in listed.get_json()["detail"]
    shown = client("coordinator").get(f"/runs/{UNICODE_DIGITS_RUN}")
    assert shown.status_code == 400, shown.get_json()


@pytest.mark.parametrize(
    "moment",
    [
        "20261201",  # ISO 8601's basic form
        "2026-W49-1",  # a week date
        "2026-12-01 08:00",  # a space for the T
        "2026-12-01T08:00:00.5Z",  # a fraction of a second
        "2026-12-01T08",  # an hour alone
        "2026-12-01T08:00+0100",  # a zone without its colon
        "2028-02-29",  # a leap day
        "2027-02-29",  # no such day
        "2999-01-01T00:00:00Z",  # a year the description says the server takes
        "2026-12-01T08:00:00Z",
    ],
)
def test_a_time_is_taken_exactly_when_the_document_takes_it(harness: Harness, moment: str) -> None:
    schema = _query_schema("coordinator", "/runs", "since")
    answer = client("coordinator").get("/runs", query_string={"since": moment})
    assert answer.status_code in (200, 400), answer.get_json()
    assert (answer.status_code == 200) == _matches(schema["pattern"], moment), answer.get_json()


def _field_taken(schema: dict[str, Any], value: str | float) -> bool:
    """Whether the document takes ``value`` for a customer's field (its ``oneOf``)."""
    taken: list[bool] = []
    for branch in schema["oneOf"]:
        if branch["type"] == "string" and isinstance(value, str):
            taken.append(len(value) <= branch["maxLength"] and _matches(branch["pattern"], value))
        elif branch["type"] == "number" and isinstance(value, int | float):
            taken.append(
                branch.get("exclusiveMinimum", -float("inf"))
                < value
                < branch.get("exclusiveMaximum", float("inf"))
            )
    return sum(taken) == 1


@pytest.mark.parametrize(
    "value",
    [
        "Ada\n",  # a control character the server stripped
        "\tAda",
        "Ada\x85",
        "a" * 200 + " ",  # over maxLength as sent, 200 once stripped
        " Ada ",
        "a" * 200,
        10**200,  # a whole number of 201 digits: a number to the document
        10**198 - 1,
        10**199,
        -(10**199),
        1.5e250,
        -0.0,
    ],
)
def test_a_customer_field_is_taken_exactly_when_the_document_takes_it(
    harness: Harness, value: str | float
) -> None:
    schema = _document("crm")["components"]["schemas"]["NewCustomer"]["properties"]["firstName"]
    answer = client("crm").post("/customers", json={**ADA, "firstName": value})
    assert answer.status_code in (201, 400), answer.get_json()
    assert (answer.status_code == 201) == _field_taken(schema, value), answer.get_json()


def test_the_openapi_description_names_lineage(harness: Harness) -> None:
    """Once: a retry's 202 and every status of a run carry ``lineage`` (the
    run whose folder holds its bills), but the OpenAPI description named it nowhere."""
    schemas = client("coordinator").get("/openapi.json").get_json()["components"]["schemas"]
    described = {
        name: "lineage" in schemas[name]["properties"] for name in ("RunAccepted", "RunStatus")
    }
    assert all(described.values()), described
