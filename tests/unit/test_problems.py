"""Every refusal and failure of the HTTP functions is an RFC 9457 problem
(``application/problem+json``): ``detail`` for a person, ``status`` and ``errors`` for a
program, each problem of a refused request with where it is; the same on
functions-framework and on Lambda, and as the served document declares it."""

from __future__ import annotations

import json

from functions.http.problems import MEDIA_TYPE
from runtime.aws_lambda.http import HttpAdapter
from runtime.http_function import HttpFunction
from tests.helpers.lab import ADA
from tests.unit.harness import TOKEN, Harness, S3Harness, client, event

BEARER = {"Authorization": f"Bearer {TOKEN}"}
# Three problems: a customer id of no digits, a number, a period of no form.
MALFORMED = {"customerIdentifiers": ["1", "x y", 7], "billingPeriod": "2026-13"}
MALFORMED_LOCATIONS = [
    ["body", "customerIdentifiers", 1],
    ["body", "customerIdentifiers", 2],
    ["body", "billingPeriod"],
]


def test_a_malformed_body_is_a_problem_listing_each_problem_where_it_is(
    guarded: Harness,
) -> None:
    response = client("coordinator").post("/", json=MALFORMED, headers=BEARER)
    assert response.status_code == 400
    assert response.headers["Content-Type"] == MEDIA_TYPE
    problem = response.get_json()
    assert {k: problem[k] for k in ("type", "title", "status")} == {
        "type": "about:blank",
        "title": "Bad Request",
        "status": 400,
    }
    assert [item["loc"] for item in problem["errors"]] == MALFORMED_LOCATIONS
    assert "'x y', which is not a customer id" in problem["errors"][0]["detail"]
    assert 'must be a string, got 7 (write it as "7")' in problem["errors"][1]["detail"]
    assert "not a billing period" in problem["errors"][2]["detail"]
    # The sentence for a person: the first problem, and how many more there are.
    assert problem["detail"].startswith(problem["errors"][0]["detail"])
    assert problem["detail"].endswith("(and 2 more problems: see errors)")
    assert guarded.publisher.published == []


def test_a_customer_named_twice_is_refused_at_each_repeat(guarded: Harness) -> None:
    twice = {"customerIdentifiers": ["1", "2", "1", "2"]}
    response = client("coordinator").post("/", json=twice, headers=BEARER)
    problem = response.get_json()
    assert response.status_code == 400, problem
    assert [item["loc"] for item in problem["errors"]] == [
        ["body", "customerIdentifiers", 2],
        ["body", "customerIdentifiers", 3],
    ]
    assert "repeats customer '1' of position 0" in problem["errors"][0]["detail"]
    assert guarded.publisher.published == []


def test_lambda_answers_a_malformed_body_with_the_same_problem(guarded: Harness) -> None:
    on_framework = client("coordinator").post("/", json=MALFORMED, headers=BEARER)
    adapter = HttpAdapter(HttpFunction("coordinator", lambda: guarded.services))
    on_lambda = adapter({**event("function-url"), "body": json.dumps(MALFORMED)})
    assert on_lambda["statusCode"] == 400
    assert on_lambda["headers"]["Content-Type"] == MEDIA_TYPE
    assert json.loads(on_lambda["body"]) == on_framework.get_json()


def test_every_refused_parameter_is_listed_in_query_and_path(harness: Harness) -> None:
    response = client("coordinator").get("/runs/run-1?limit=0&after=-1")
    problem = response.get_json()
    assert response.status_code == 400, problem
    assert [item["loc"] for item in problem["errors"]] == [
        ["path", "runId"],
        ["query", "after"],
        ["query", "limit"],
    ]
    unknown = client("coordinator").get("/runs/run-1/bills/x?limit=0&dry=1").get_json()
    assert [item["loc"] for item in unknown["errors"]] == [["query", "dry"], ["query", "limit"]]
    listed = client("coordinator").get("/runs?limit=0&after=nope&since=yesterday")
    problem = listed.get_json()
    assert listed.status_code == 400, problem
    assert sorted(item["loc"] for item in problem["errors"]) == [
        ["query", "after"],
        ["query", "limit"],
        ["query", "since"],
    ]
    details = " ".join(item["detail"] for item in problem["errors"])
    assert "limit must be a whole number" in details
    assert "since='yesterday' is not a time" in details


def test_a_body_problem_and_a_parameter_problem_are_told_together(harness: Harness) -> None:
    response = client("coordinator").post(
        "/", json={"customerIdentifiers": [1]}, headers={"Idempotency-Key": "\t"}
    )
    problem = response.get_json()
    assert response.status_code == 400, problem
    assert [item["loc"] for item in problem["errors"]] == [
        ["header", "Idempotency-Key"],
        ["body", "customerIdentifiers", 0],
    ]
    assert 'write it as "1"' in problem["errors"][1]["detail"]


def test_a_refusal_of_the_request_as_a_whole_has_one_problem_of_no_location(
    harness: Harness,
) -> None:
    response = client("crm").get("/nowhere")
    assert response.status_code == 404
    assert response.headers["Content-Type"] == MEDIA_TYPE
    problem = response.get_json()
    assert problem["title"] == "Not Found"
    assert problem["errors"] == [{"loc": [], "detail": problem["detail"]}]


def test_a_401_is_a_problem_that_never_echoes_the_token(guarded: Harness) -> None:
    offered = "Bearer not-the-token-7f3a"
    response = client("coordinator").get("/runs", headers={"Authorization": offered})
    assert response.status_code == 401
    assert response.headers["Content-Type"] == MEDIA_TYPE
    assert response.headers["WWW-Authenticate"].endswith('error="invalid_token"')
    problem = response.get_json()
    assert problem["status"] == 401 and "was not accepted" in problem["detail"]
    assert "not-the-token-7f3a" not in response.get_data(as_text=True)


def test_a_failure_is_a_problem_without_errors(s3_harness: S3Harness) -> None:
    jobs_bucket = s3_harness.services.settings.jobs_bucket
    s3_harness.s3.delete_bucket(Bucket=jobs_bucket)
    response = client("coordinator").get("/runs")
    problem = response.get_json()
    assert response.status_code == 503, problem
    assert response.headers["Content-Type"] == MEDIA_TYPE
    assert problem["title"] == "Service Unavailable"
    assert f"S3 bucket {jobs_bucket!r} does not exist" in problem["detail"]
    assert "errors" not in problem


def test_the_document_declares_every_4xx_and_5xx_a_problem(harness: Harness) -> None:
    for function in ("coordinator", "crm"):
        document = client(function).get("/openapi.json").get_json()
        problem = document["components"]["schemas"]["Problem"]
        assert set(problem["required"]) == {"type", "title", "status", "detail"}
        for path, item in document["paths"].items():
            for method, operation in item.items():
                for status, answer in operation["responses"].items():
                    if int(status) < 400:
                        continue
                    assert list(answer["content"]) == [MEDIA_TYPE], (method, path, status)
                assert "500" in operation["responses"], (method, path)


def test_an_answer_costs_what_it_shows_whatever_the_body_holds(guarded: Harness) -> None:
    many_keys = json.dumps({f"{n:x}": 0 for n in range(60_000)})  # 0.7 MB
    for role, path in (("coordinator", "/"), ("crm", "/customers"), ("crm", "/customers/1")):
        response = client(role).post(
            path, data=many_keys, content_type="application/json", headers=BEARER
        )
        assert response.status_code == 400
        assert len(response.get_data()) < 2_000, (path, len(response.get_data()))
        assert "60000 unknown fields" in response.get_json()["detail"]
    huge_key = json.dumps({"k" * 900_000: 1, "customerIdentifiers": ["1"]})
    response = client("coordinator").post(
        "/", data=huge_key, content_type="application/json", headers=BEARER
    )
    assert response.status_code == 400
    assert len(response.get_data()) < 2_000
    once_too_often = client("coordinator").post(
        "/", json={"customerIdentifiers": ["1"] * 10_000}, headers=BEARER
    )
    problem = once_too_often.get_json()
    assert once_too_often.status_code == 400
    assert len(problem["errors"]) == 100
    assert problem["detail"].endswith("errors lists the first 100")
    assert len(once_too_often.get_data()) < 30_000
    assert guarded.publisher.published == []


def test_a_repeat_and_a_malformed_item_are_told_together(harness: Harness) -> None:
    twice_and_bad = {"customerIdentifiers": ["1", "1", 2]}
    problem = client("coordinator").post("/", json=twice_and_bad).get_json()
    assert problem["status"] == 400
    assert [item["loc"] for item in problem["errors"]] == [
        ["body", "customerIdentifiers", 2],
        ["body", "customerIdentifiers", 1],
    ]


def test_a_usage_line_comes_only_with_a_body_of_the_wrong_shape(harness: Harness) -> None:
    crm = client("crm")
    blank_city = crm.post("/customers", json=ADA | {"city": ""}).get_json()
    assert blank_city["detail"] == "\"city\" must be a non-empty string, got ''"
    not_a_customer = crm.post("/customers", json="Ada").get_json()
    assert not_a_customer["detail"].endswith("send a customer (a JSON object) or a list of them")
