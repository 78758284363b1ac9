"""Bearer-token auth on the HTTP functions."""

from __future__ import annotations

import pytest

from tests.unit.harness import TOKEN, Harness, client

RUN = "run-20261128T001500-0a1b2c3d"


@pytest.mark.parametrize(
    ("authorization", "problem"),
    [
        (None, "invalid_request"),
        (f"Basic {TOKEN}", "invalid_request"),
        ("Bearer wrong-token", "invalid_token"),
        (f"Bearer {TOKEN}x", "invalid_token"),
        ("Bearer ", "invalid_token"),
    ],
)
@pytest.mark.parametrize("target", ["coordinator", "crm"])
def test_without_the_token_both_functions_answer_401(
    guarded: Harness, target: str, authorization: str | None, problem: str
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = client(target).post("/", json={"customerIdentifiers": ["1"]}, headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == f'Bearer realm="billing", error="{problem}"'
    assert "BILLING_TOKEN" in response.get_json()["detail"]
    assert TOKEN not in response.get_data(as_text=True)
    assert guarded.publisher.published == []


def test_with_the_token_both_functions_serve(guarded: Harness) -> None:
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    run = client("coordinator").post("/", json={"customerIdentifiers": ["1"]}, headers=bearer)
    assert run.status_code == 202
    assert client("crm").get("/?customerId=1", headers=bearer).status_code == 200
    assert (
        client("crm")
        .get("/?customerId=1", headers={"authorization": f"bearer {TOKEN}"})
        .status_code
        == 200
    )


def test_the_description_and_the_metrics_need_no_token(guarded: Harness) -> None:
    for target in ("coordinator", "crm"):
        assert client(target).get("/openapi.json").get_json()["openapi"].startswith("3.")
        assert client(target).get("/metrics").status_code == 200


def test_without_a_token_configured_auth_is_off(harness: Harness) -> None:
    assert harness.services.settings.token is None
    assert client("crm").get("/?customerId=1").status_code == 200
