"""The HTTP surface answers as its served OpenAPI document says (found by an attack on
issue 31): requests where the answer and the document disagreed, or the Lambda adapter and
functions-framework did. Each test reads the document the function serves, so the two are
held together."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest

from runtime.aws_lambda.http import HttpAdapter
from runtime.http_function import HttpFunction
from tests.unit.harness import Harness, client

# A run id written in Arabic-Indic digits: Python's `\d` takes them, ECMAScript's does not.
ARABIC_INDIC = str.maketrans("0123456789", "".join(chr(0x660 + n) for n in range(10)))
UNICODE_DIGITS_RUN = "run-20261128T001500".translate(ARABIC_INDIC) + "-0a1b2c3d"
FIELDS = {"firstName": "Ada", "lastName": "Lovelace", "city": "London"}
FIELDS |= {"connectionId": "1", "connectionMandate": "2"}


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


def _lambda(harness: Harness, function: str, method: str, url: str) -> dict[str, Any]:
    """``url`` asked of ``function`` through a function URL's event: a function URL hands
    the path over as the client sent it, percent-encoded (rawPath)."""
    parts = urlsplit(url)
    event = {
        "version": "2.0",
        "rawPath": parts.path,
        "rawQueryString": parts.query,
        "headers": {},
        "requestContext": {"http": {"method": method, "path": parts.path}},
        "isBase64Encoded": False,
    }
    answer: dict[str, Any] = HttpAdapter(HttpFunction(function, lambda: harness.services))(event)
    return answer


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("GET", "/console/%61pp.js"),
        ("GET", "/%72uns"),
        ("GET", "/runs/run-20261128T001500-0a1b2c3d/bills/%31"),
        ("POST", "/runs/%72un-20261128T001500-0a1b2c3d/cancel"),
        ("GET", "/console/..%2Fweb.py"),
    ],
)
def test_lambda_reads_a_percent_encoded_path_as_functions_framework_does(
    harness: Harness, method: str, url: str
) -> None:
    framework = client("coordinator").open(url, method=method)
    on_lambda = _lambda(harness, "coordinator", method, url)
    assert on_lambda["statusCode"] == framework.status_code, on_lambda["body"]
    assert on_lambda["body"] == framework.get_data(as_text=True)


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
    answer = client("crm").post("/customers", json={**FIELDS, "firstName": value})
    assert answer.status_code in (201, 400), answer.get_json()
    assert (answer.status_code == 201) == _field_taken(schema, value), answer.get_json()


@pytest.mark.parametrize(("function", "url"), [("coordinator", "/runs"), ("crm", "/customer-ids")])
def test_lambda_answers_a_head_as_functions_framework_does(
    harness: Harness, function: str, url: str
) -> None:
    """A GET's status and headers, no body: HEAD is taken wherever GET is (RFC 9110, 9.1)."""
    got, head = _lambda(harness, function, "GET", url), _lambda(harness, function, "HEAD", url)
    assert (head["statusCode"], head["body"]) == (got["statusCode"], "")
    assert head["headers"] == got["headers"]
    assert client(function).head(url).status_code == head["statusCode"]
