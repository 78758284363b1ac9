"""Input that once answered 500, or stored what it should have refused: each is a 4xx now,
refused before anything is written, on functions-framework and on Lambda alike; a Kafka
record no parser can read is a dead letter, and stops no worker."""

from __future__ import annotations

import re
import sys

import pytest

from functions.context import FunctionContext
from functions.errors import ConfigurationError
from functions.http.parameters import NOT_BLANK
from functions.runs.schedule import BillingSchedule
from functions.storage import keys
from runtime.aws_lambda.http import HttpAdapter
from runtime.config import FunctionSettings
from runtime.http_function import HttpFunction
from runtime.kafka.invoker import Invoker
from runtime.kafka.records import Record
from runtime.triggers import BY_FUNCTION
from tests.helpers.lab import ADA
from tests.unit.harness import Harness, client, function_url_event

RUN = "run-20261128T001500-0a1b2c3d"
BIG = "9" * 5000  # an integer of more digits than Python's int() takes (4,300)


@pytest.mark.parametrize(
    ("function", "path"),
    [
        ("coordinator", "/runs?limit=²"),
        ("coordinator", "/runs?after=¹"),
        ("coordinator", f"/runs/{RUN}?limit=²"),
        ("coordinator", f"/runs/{RUN}?after=¹"),
        ("coordinator", f"/runs/{RUN}?limit=1000000000000000000000"),
        ("crm", "/?limit=²"),
        ("crm", "/?after=¹"),
        ("crm", "/customer-ids?limit=²"),
        ("crm", "/customer-ids?after=¹"),
        ("crm", "/customer-search?name=a&limit=²"),
        ("crm", "/customer-search?name=a&after=¹"),
        ("coordinator", "/runs?since=0001-01-01T00:00:00%2B01:00"),
        ("coordinator", "/runs?until=9999-12-31T23:00:00-05:00"),
        ("coordinator", "/runs?since=0999-01-01"),
        ("coordinator", "/runs?since=2026-13-01"),
    ],
)
def test_an_odd_query_value_is_a_400_naming_it(harness: Harness, function: str, path: str) -> None:
    response = client(function).get(path)
    assert response.status_code == 400, response.get_json()
    name = path.rsplit("&", 1)[-1].split("?")[-1].split("=")[0]
    assert name in response.get_json()["detail"]


@pytest.mark.parametrize("path", [f"/runs//{RUN}", f"/runs/{RUN}//bills/1", f"//runs/{RUN}"])
def test_a_doubled_slash_is_an_unknown_path(guarded: Harness, path: str) -> None:
    app = client("coordinator")
    assert app.get(path).status_code == 401  # before telling whether the path exists
    token = {"Authorization": "Bearer s3cr3t-t0ken-for-tests-only"}
    response = app.get(path, headers=token)
    assert response.status_code == 404
    assert "no route" in response.get_json()["detail"]


def test_a_doubled_slash_is_an_unknown_path_on_lambda(harness: Harness) -> None:
    adapter = HttpAdapter(HttpFunction("coordinator", lambda: harness.services))
    answer = adapter(function_url_event("GET", f"/runs//{RUN}"))
    assert answer["statusCode"] == 404


@pytest.mark.parametrize(
    ("field", "value"),
    [("firstName", "x" * 201), ("lastName", "é" * 201), ("city", "c" * 201)],
)
def test_a_field_over_its_bound_is_refused_before_anything_is_written(
    harness: Harness, field: str, value: str
) -> None:
    crm = client("crm")
    assert crm.get("/").status_code == 200  # the CRM seeds the lab's customers first
    before = list(harness.bucket(harness.services.settings.customers_bucket).names())
    response = crm.post("/customers", json={**ADA, field: value})
    assert response.status_code == 400
    assert f'"{field}" has 201 characters' in response.get_json()["detail"]
    assert list(harness.bucket(harness.services.settings.customers_bucket).names()) == before


def test_a_long_word_in_a_name_fits_every_s3_servers_keys(harness: Harness) -> None:
    crm = client("crm")
    word = "\U0001f600" * 200  # 200 characters, 2,400 bytes percent-encoded
    created = crm.post("/customers", json={**ADA, "lastName": word})
    assert created.status_code == 201, created.get_json()
    names = harness.bucket(harness.services.settings.customers_bucket).names(keys.CUSTOMER_NAMES)
    assert max(len(name.encode()) for name in names) < 255
    found = crm.get("/customer-search", query_string={"name": word[:100]}).get_json()
    assert [c["customerId"] for c in found] == [created.get_json()["customerId"]]
    shorter = crm.get("/customer-search", query_string={"name": word[:3]}).get_json()
    assert [c["customerId"] for c in shorter] == [created.get_json()["customerId"]]


def test_an_id_the_allocator_cannot_follow_leaves_new_ids_within_the_rule(
    harness: Harness,
) -> None:
    crm = client("crm")
    nines = {**ADA, "customerId": "9" * 64}
    assert crm.post("/customers", json=[nines]).status_code == 201
    created = crm.post("/customers", json=ADA).get_json()["customerId"]
    assert len(created) < 13
    assert crm.get(f"/?customerId={created}").status_code == 200
    assert (
        client("coordinator").post("/", json={"customerIdentifiers": [created]}).status_code == 202
    )
    assert client("coordinator").get("/runs").status_code == 200


@pytest.mark.parametrize(
    ("expression", "complaint"),
    [
        ("0 0 30 2 *", "names no time that comes"),
        ("0 6 1 * * * 2020", "five fields"),
        ("*/5 * * * * 30", "five fields"),
        ("@daily", "five fields"),
        ("0 0 * * 8", "five fields"),
    ],
)
def test_a_schedule_with_no_tick_or_not_five_fields_stops_the_start(
    expression: str, complaint: str
) -> None:
    with pytest.raises(ConfigurationError, match="BILLING_SCHEDULE") as refused:
        BillingSchedule.parse(expression, "UTC", 86_400)
    assert complaint in str(refused.value)


def test_the_documents_blank_is_the_blank_the_server_strips() -> None:
    # schemathesis sent name=%1F: `\S` in the document took it, str.strip() did not.
    not_blank = re.compile(NOT_BLANK)
    differ = [
        hex(code)
        for code in range(sys.maxunicode + 1)
        if (not_blank.fullmatch(chr(code)) is None) != chr(code).isspace()
    ]
    assert differ == []


@pytest.mark.parametrize(
    ("function", "path", "body"),
    [
        ("coordinator", "/", f'{{"customerIdentifiers": [{BIG}]}}'),
        ("coordinator", "/", f'{{"customerIdentifiers": ["1"], "note": {BIG}}}'),
        (
            "crm",
            "/customers",
            f'{{"firstName": "A", "lastName": "B", "city": "C",'
            f' "connectionId": {BIG}, "connectionMandate": "0"}}',
        ),
        ("crm", "/customers/1", f'{{"city": {BIG}}}'),
        (
            "crm",
            "/customers",
            '{"firstName": "\\ud800", "lastName": "B", "city": "C",'
            ' "connectionId": "1", "connectionMandate": "0"}',
        ),
        (
            "crm",
            "/customers",
            '[{"firstName": "A", "lastName": "\\udfff", "city": "C",'
            ' "connectionId": "1", "connectionMandate": "0"}]',
        ),
    ],
)
def test_a_body_python_cannot_hold_as_text_is_a_400(
    harness: Harness, function: str, path: str, body: str
) -> None:
    """5xx. functions/http/web.py HttpRequest.json catches JSONDecodeError, not the ValueError
    json.loads raises for an integer over 4,300 digits; crm.api lets a lone surrogate
    (valid JSON "\\ud800") through to keys.name_prefix's quote(), which cannot encode it."""
    response = client(function).post(path, data=body.encode(), content_type="application/json")
    assert 400 <= response.status_code < 500, (response.status_code, response.get_json())


@pytest.mark.parametrize(
    ("function", "raw"),
    [
        (
            "engine-start",
            b'{"workflow-type": "bill-generation", "workflow-id": '
            + BIG.encode()
            + b', "payload": {"customerIdentifier": "1"}}',
        ),
        ("engine-complete", b'{"qaIdentifier": "x", "n": ' + BIG.encode() + b"}"),
        ("crm-answer", b"[" * 100_000),
    ],
)
def test_a_record_python_cannot_parse_is_a_dead_letter(
    context: FunctionContext, unit_settings: FunctionSettings, function: str, raw: bytes
) -> None:
    """Once: messages
    .decode_object catches UnicodeDecodeError/JSONDecodeError only; json.loads raises
    ValueError (an integer over 4,300 digits) and RecursionError (deep nesting), which the
    Invoker lets out (it is outside _invoke's catch-all): invoke_batch raises, the worker
    stops without committing, and the same record stops the next one. The guarantee:
    "a record that is not JSON ... goes to <source topic>.dlq"."""
    invoke = Invoker(BY_FUNCTION[function], unit_settings, context, sleep=lambda _s: None)
    produced = invoke(Record(raw, "some-topic", 0, 1))
    assert [p.topic for p in produced] == ["some-topic.dlq"]


def test_a_lambda_http_event_with_a_bad_base64_body_is_a_400(harness: Harness) -> None:
    """5xx (Lambda invocation error, low: API Gateway sends valid base64). runtime
    .aws_lambda.http.request_of: base64.b64decode's binascii.Error is not caught."""
    adapter = HttpAdapter(HttpFunction("coordinator", lambda: harness.services))
    headers = {"content-type": "application/json"}
    event = function_url_event("POST", "/", headers, "not base64!", base64_encoded=True)
    answer = adapter(event)
    assert answer["statusCode"] == 400
