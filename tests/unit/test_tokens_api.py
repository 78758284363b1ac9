"""The named tokens through the HTTP functions: made, listed and revoked by an admin, taken
and refused by every function, the refusals saying why without the token; what a token
costs a request in S3; and the attack on them: bad names, a race of two makes of one name,
a revoked token inside the cache's window, the token in a log line."""

from __future__ import annotations

import io
import logging
import threading
from dataclasses import replace
from typing import Any

import pytest

from functions.access import TOKEN_PREFIX, digest
from runtime.auth import REFRESH_S
from runtime.aws_lambda.http import HttpAdapter
from runtime.http_function import HttpFunction
from runtime.services import Services
from tests.unit.harness import (
    TOKEN,
    TOKENS_BUCKET,
    Harness,
    S3Harness,
    app,
    client,
    function_url_event,
    s3_requests,
)

ADMIN = {"Authorization": f"Bearer {TOKEN}"}
RUN = "run-20261128T001500-0a1b2c3d"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def make(name: str, role: str, headers: dict[str, str] = ADMIN) -> Any:
    return client("coordinator").post("/tokens", json={"name": name, "role": role}, headers=headers)


def made(name: str, role: str) -> str:
    answer = make(name, role)
    assert answer.status_code == 201, answer.get_json()
    token: str = answer.get_json()["token"]
    return token


class Ticks:
    """A monotonic clock a test moves."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_an_admin_makes_a_token_shown_once_that_works_at_once(guarded: Harness) -> None:
    answer = make("ci-deploy", "operator")
    assert answer.status_code == 201
    assert answer.headers["Cache-Control"] == "no-store"
    body = answer.get_json()
    token = body.pop("token")
    assert token.startswith(TOKEN_PREFIX) and len(token) == 46
    assert body == {
        "name": "ci-deploy",
        "role": "operator",
        "state": "active",
        "createdAt": body["createdAt"],
        "createdBy": "BILLING_TOKEN",
    }
    run = client("coordinator").post(
        "/", json={"customerIdentifiers": ["1"]}, headers=bearer(token)
    )
    assert run.status_code == 202
    assert client("crm").get("/?customerId=1", headers=bearer(token)).status_code == 200
    listed = client("coordinator").get("/tokens", headers=ADMIN)
    assert token not in listed.get_data(as_text=True)
    assert digest(token) not in listed.get_data(as_text=True)
    assert listed.get_json()["tokens"] == [body]


def test_a_taken_name_is_409_revoked_or_not_and_the_first_token_stays(guarded: Harness) -> None:
    first = made("ci", "viewer")
    again = make("ci", "admin")
    assert again.status_code == 409
    assert "there is a token named 'ci' already" in again.get_json()["detail"]
    assert client("coordinator").get("/runs", headers=bearer(first)).status_code == 200
    assert client("coordinator").post("/tokens/ci/revoke", headers=ADMIN).status_code == 200
    after_revoke = make("ci", "viewer")
    assert after_revoke.status_code == 409
    assert "was revoked at" in after_revoke.get_json()["detail"]


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"name": "", "role": "viewer"}, "name"),
        ({"name": "CI", "role": "viewer"}, "name"),
        ({"name": "BILLING_TOKEN", "role": "admin"}, "name"),
        ({"name": "-ci", "role": "viewer"}, "name"),
        ({"name": "ci-", "role": "viewer"}, "name"),
        ({"name": "c i", "role": "viewer"}, "name"),
        ({"name": "c/i", "role": "viewer"}, "name"),
        ({"name": "../x", "role": "viewer"}, "name"),
        ({"name": "ci\n", "role": "viewer"}, "name"),
        ({"name": "çi", "role": "viewer"}, "name"),
        ({"name": "a" * 65, "role": "viewer"}, "name"),
        ({"name": 7, "role": "viewer"}, "name"),
        ({"name": "ci", "role": "root"}, "role"),
        ({"name": "ci", "role": "Admin"}, "role"),
        ({"name": "ci"}, "role"),
        ({"name": "ci", "role": "viewer", "token": "bt_mine"}, "token"),
    ],
)
def test_a_bad_name_or_role_is_400_and_nothing_is_made(
    guarded: Harness, body: dict[str, Any], where: str
) -> None:
    answer = client("coordinator").post("/tokens", json=body, headers=ADMIN)
    assert answer.status_code == 400, answer.get_json()
    assert answer.get_json()["errors"][0]["loc"][:2] == ["body", where]
    assert guarded.services.tokens is not None
    assert guarded.services.tokens.every() == []


def test_the_longest_name_is_taken(guarded: Harness) -> None:
    assert make("a" * 64, "viewer").status_code == 201
    assert make("a.b_c-9", "viewer").status_code == 201


def test_tokens_are_listed_a_page_at_a_time(guarded: Harness) -> None:
    for name in ("c", "a", "b"):
        made(name, "viewer")
    first = client("coordinator").get("/tokens?limit=2", headers=ADMIN)
    assert [t["name"] for t in first.get_json()["tokens"]] == ["a", "b"]
    assert first.get_json()["next"] == "b"
    assert first.headers["Link"] == '</tokens?after=b&limit=2>; rel="next"'
    rest = client("coordinator").get("/tokens?after=b&limit=2", headers=ADMIN).get_json()
    assert (rest["next"], [t["name"] for t in rest["tokens"]]) == (None, ["c"])
    assert client("coordinator").get("/tokens?after=B", headers=ADMIN).status_code == 400


def test_a_revoked_token_is_refused_here_at_once_and_elsewhere_within_30_s(
    guarded: Harness,
) -> None:
    token = made("ci", "operator")
    # Another process (the CRM's, another Lambda instance), with its own cache and clock.
    ticks = Ticks()
    other = Services(guarded.services.settings, buckets=guarded.bucket, ticks=ticks)
    elsewhere = HttpAdapter(HttpFunction("crm", lambda: other))

    def crm_status() -> int:
        event = function_url_event("GET", "/?customerId=1", bearer(token))
        status: int = elsewhere(event)["statusCode"]
        return status

    assert crm_status() == 200
    revoked = client("coordinator").post("/tokens/ci/revoke", headers=ADMIN)
    assert revoked.status_code == 200
    assert revoked.get_json()["state"] == "revoked"
    assert revoked.get_json()["revokedBy"] == "BILLING_TOKEN"
    refused = client("coordinator").get("/runs", headers=bearer(token))
    assert refused.status_code == 401
    assert "it was revoked (the token 'ci'" in refused.get_json()["detail"]
    ticks.now += REFRESH_S - 0.1
    assert crm_status() == 200  # the window: another process's cache is not stale yet
    ticks.now += 0.1
    assert crm_status() == 401
    again = client("coordinator").post("/tokens/ci/revoke", headers=ADMIN)
    assert again.get_json() == revoked.get_json()
    assert client("coordinator").post("/tokens/nobody/revoke", headers=ADMIN).status_code == 404


def test_a_request_adds_no_s3_request_for_its_token(s3_guarded: S3Harness) -> None:
    token = made("reader", "viewer")
    for name in ("a", "b", "c"):
        made(name, "viewer")
    coordinator = client("coordinator")
    assert coordinator.get(f"/runs/{RUN}", headers=bearer(token)).status_code == 404
    before = s3_requests()
    for _ in range(100):
        assert coordinator.get(f"/runs/{RUN}", headers=bearer(token)).status_code == 404
    assert s3_requests() - before == 100  # the run's record, read once a request; no more
    before = s3_requests()
    for _ in range(100):
        assert coordinator.post("/", json={}, headers=bearer(token)).status_code == 403
    # Each refusal's audit record and its index by who; nothing for the token.
    assert s3_requests() - before == 2 * 100


def test_concurrent_makes_of_one_name_make_one_token(guarded: Harness) -> None:
    answers: list[Any] = []
    start = threading.Barrier(6)
    served = app("coordinator")  # one app, as functions-framework serves its threads

    def post(role: str) -> None:
        coordinator = served.test_client()
        start.wait()
        body = {"name": "race", "role": role}
        answers.append(coordinator.post("/tokens", json=body, headers=ADMIN))

    threads = [threading.Thread(target=post, args=(r,)) for r in ["viewer", "admin"] * 3]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201, 409, 409, 409, 409, 409]
    [won] = [answer.get_json() for answer in answers if answer.status_code == 201]
    assert guarded.services.tokens is not None
    [kept] = guarded.services.tokens.every()
    assert (kept.role, kept.digest) == (won["role"], digest(won["token"]))


def test_tokens_that_cannot_be_read_are_503_without_where_and_billing_token_still_works(
    s3_guarded: S3Harness,
) -> None:
    token = made("ci", "viewer")
    for kept in s3_guarded.s3.list_objects_v2(Bucket=TOKENS_BUCKET)["Contents"]:
        s3_guarded.s3.delete_object(Bucket=TOKENS_BUCKET, Key=kept["Key"])  # the audit's too
    s3_guarded.s3.delete_bucket(Bucket=TOKENS_BUCKET)  # S3 refuses every read of the tokens
    s3_guarded.services.authenticator.tokens.forget()  # type: ignore[union-attr]
    answer = client("coordinator").get("/runs", headers=bearer(token))
    assert answer.status_code == 503
    detail = answer.get_json()["detail"]
    assert "cannot be checked now" in detail and TOKENS_BUCKET not in detail
    assert client("coordinator").get("/runs", headers=ADMIN).status_code == 200


def test_only_an_admin_manages_tokens(guarded: Harness) -> None:
    operator = made("ops", "operator")
    refused = make("mine", "admin", bearer(operator))
    assert refused.status_code == 403
    assert refused.headers["WWW-Authenticate"] == (
        'Bearer realm="billing", error="insufficient_scope", scope="admin"'
    )
    assert (
        "needs a token of the role admin; the token 'ops' has the role operator"
        in (refused.get_json()["detail"])
    )
    assert client("coordinator").get("/tokens", headers=bearer(operator)).status_code == 403


def test_a_403_comes_before_the_body_is_read(guarded: Harness) -> None:
    viewer = made("reader", "viewer")
    answer = client("coordinator").post(
        "/", data=b"not json", headers={**bearer(viewer), "Content-Type": "text/plain"}
    )
    assert answer.status_code == 403
    assert guarded.publisher.published == []


def test_without_a_store_the_token_operations_are_501(harness: Harness) -> None:
    harness.services.settings = replace(harness.services.settings, auth_token=TOKEN)
    answer = make("ci", "viewer")
    assert answer.status_code == 501
    assert "TOKENS_BUCKET" in answer.get_json()["detail"]
    assert client("coordinator").get("/tokens", headers=ADMIN).status_code == 501


def test_without_a_token_and_a_store_anybody_may_do_anything(harness: Harness) -> None:
    assert client("coordinator").get("/runs").status_code == 200
    assert (
        client("coordinator").post("/tokens", json={"name": "x", "role": "admin"}).status_code
        == 501
    )


def test_no_named_token_reaches_a_log_line(guarded: Harness, log_lines: io.StringIO) -> None:
    token = made("ci", "viewer")
    coordinator = client("coordinator")
    coordinator.get("/runs", headers=bearer(token))
    coordinator.post("/", json={"customerIdentifiers": ["1"]}, headers=bearer(token))
    coordinator.post("/tokens/ci/revoke", headers=ADMIN)
    coordinator.get("/runs", headers=bearer(token))
    coordinator.get("/runs", headers=bearer(token[:-1]))
    coordinator.get(f"/runs/{token}", headers=ADMIN)
    logging.getLogger("careless").error("a library logs a header: Authorization: Bearer %s", token)
    text = log_lines.getvalue()
    assert "ci (viewer) was refused startRun, which needs operator" in text
    assert token not in text and token[3:30] not in text
    assert "Bearer bt_***" in text
