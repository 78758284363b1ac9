"""What a review of issue 29 found, each kept as a test that once failed and passes
now; the ``..._held`` ones are attacks that held, kept so that they keep holding.

The CRM's creates and imports, bad input on HTTP and Kafka, the CLI's import.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlparse

import boto3
import pytest
from botocore.exceptions import ReadTimeoutError

from cli.batches import import_requests
from functions.context import FunctionContext
from runtime.aws_lambda.http import HttpAdapter
from runtime.config import FunctionSettings
from runtime.http_function import HttpFunction
from runtime.kafka.invoker import Invoker
from runtime.kafka.records import Record
from runtime.triggers import BY_FUNCTION
from tests.helpers.lab import ADA
from tests.unit.harness import Harness, client


def test_a_create_whose_answer_was_lost_stores_the_customer_once(
    harness: Harness,
) -> None:
    """Found in review: the customer's create (If-None-Match) reaches S3, its answer is
    lost (a read timeout, a 500 after the write); botocore tries it again, S3 answers
    412, ``add`` reads that as "id taken" and _add_one_new stores the same customer under
    a second id. One POST, one 201, two customers."""
    crm = client("crm")
    crm.get("/?customerId=1")  # the CRM's seed, first
    raw = boto3.client("s3", region_name="us-east-1")  # the same mock S3, another client
    lost: list[str] = []
    bodies: dict[str, bytes] = {}

    def keep_body(params: dict[str, Any], **_: Any) -> None:
        bodies[params["Key"]] = params["Body"]

    def store_then_lose_the_answer(request: Any, **_: Any) -> None:
        url = urlparse(request.url)
        headers = {name.lower(): value for name, value in request.headers.items()}
        if lost or request.method != "PUT" or headers.get("if-none-match") not in ("*", b"*"):
            return
        path = unquote(url.path.lstrip("/"))
        host = url.hostname.split(".")[0] if url.hostname else ""
        # The bucket in the host (virtual-host style) or first in the path (path style).
        bucket, key = (host, path) if host != "s3" else tuple(path.split("/", 1))
        if not key.startswith("customers/"):
            return
        if "Contents" not in raw.list_objects_v2(Bucket=bucket, Prefix=key):
            raw.put_object(Bucket=bucket, Key=key, Body=bodies[key])  # the server wrote it
        lost.append(key)
        raise ReadTimeoutError(endpoint_url=request.url)  # ... and its answer never came

    harness.s3.meta.events.register("before-parameter-build.s3.PutObject", keep_body)
    harness.s3.meta.events.register("before-send.s3.PutObject", store_then_lose_the_answer)
    created = crm.post("/customers", json=ADA)
    harness.s3.meta.events.unregister("before-send.s3.PutObject", store_then_lose_the_answer)
    assert lost, "the create's answer was lost"
    assert created.status_code == 201
    listed = crm.get("/?limit=500")
    assert listed.status_code == 200, listed.get_json()
    adas = [c for c in listed.get_json() if c["lastName"] == "Lovelace"]
    assert len(adas) == 1, (
        f"one POST stored Ada {len(adas)} times: {[c['customerId'] for c in adas]}"
    )


def test_a_finished_import_sent_again_after_an_update_says_so_and_stores_nothing_twice(
    harness: Harness,
) -> None:
    """Found in review: crm_api._import: an import that finished
    long ago, sent again (the same CSV) after one of its new customers was updated,
    answers 409 "the import is written in part ... import those items again in a list of
    their own". Nothing was missing; doing as told stores that customer a second time."""
    crm = client("crm")
    crm.get("/?customerId=1")
    items = [ADA, ADA | {"firstName": "Grace", "lastName": "Hopper"}]
    first = crm.post("/customers", json=items)
    assert first.status_code == 201
    ada_id = first.get_json()[0]["customerId"]
    assert crm.post(f"/customers/{ada_id}", json={"city": "Leiden"}).status_code == 200
    again = crm.post("/customers", json=items)
    assert again.status_code == 409
    advice = again.get_json()["detail"]
    assert "in part" not in advice, advice
    assert "this list was imported before" in advice
    adas = [c for c in crm.get("/?limit=500").get_json() if c["lastName"] == "Lovelace"]
    assert len(adas) == 1, f"Ada stored {len(adas)} times"


BIG = "9" * 5000  # an integer of more digits than Python's int() takes (4,300)


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
    """5xx. functions/web.py HttpRequest.json catches JSONDecodeError, not the ValueError
    json.loads raises for an integer over 4,300 digits; crm_api lets a lone surrogate
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
    """Found in review: messages
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
    event = {
        "version": "2.0",
        "rawPath": "/",
        "rawQueryString": "",
        "headers": {"content-type": "application/json"},
        "requestContext": {"http": {"method": "POST", "path": "/"}},
        "body": "not base64!",
        "isBase64Encoded": True,
    }
    answer = adapter(event)
    assert answer["statusCode"] == 400


def test_a_file_imported_again_as_the_cli_says_stores_no_customer_twice(
    harness: Harness,
) -> None:
    """The CRM knows an import by each request's content, and --batch cuts the requests:
    the CLI's advice after a failure names the same --batch (cli/customers.py), and the
    same file cut the same way finishes the import without storing a row twice."""
    crm = client("crm")
    crm.get("/?customerId=1")
    rows = [(n + 2, ADA | {"city": f"city-{n}"}) for n in range(4)]
    first_try = import_requests(rows, 2)  # `billing customers import f.csv --batch 2`
    assert crm.post("/customers", json=[v for _, v in first_try[0]]).status_code == 201
    # ... its second request failed; the file imported again, as told (--batch 2):
    for request in import_requests(rows, 2):
        assert crm.post("/customers", json=[v for _, v in request]).status_code == 201
    cities = [c["city"] for c in crm.get("/?limit=500").get_json() if c["lastName"] == "Lovelace"]
    assert sorted(cities) == [f"city-{n}" for n in range(4)], f"stored: {sorted(cities)}"


def test_new_ids_keep_to_thirteen_digits_whatever_an_import_gives(harness: Harness) -> None:
    """An imported id below 10^12 moves new ids past it; one at or above does not: a new id
    has at most 13 digits (docs/guarantees.md)."""
    crm = client("crm")
    crm.get("/?customerId=1")
    for given in ("999999999999", "9" * 64, "1" + "0" * 20):
        assert crm.post("/customers", json=[ADA | {"customerId": given}]).status_code == 201
        created = crm.post("/customers", json=ADA).get_json()
        assert len(created["customerId"]) <= 13, created["customerId"]
