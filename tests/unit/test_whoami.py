"""``GET /whoami``: the caller as the request's token names it, for a named token of each
role, the environment's BILLING_TOKEN and a function without auth; never the token; what
the document says of it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from functions.access import Role, digest, new_token
from functions.storage.base import StoredToken
from tests.unit.harness import TOKEN, Harness, client


def _ask(token: str | None) -> tuple[int, dict[str, str]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    answer = client("coordinator").get("/whoami", headers=headers)
    assert token is None or token not in answer.get_data(as_text=True)
    return answer.status_code, answer.get_json()


@pytest.mark.parametrize("role", list(Role))
def test_a_named_token_of_each_role_is_told_its_name_and_role(guarded: Harness, role: Role) -> None:
    store = guarded.services.tokens
    assert store is not None
    secret = new_token()
    store.create(StoredToken(f"the-{role}", role, digest(secret), "2026-12-06T08:00:00.000Z"))
    assert _ask(secret) == (200, {"name": f"the-{role}", "role": role, "via": "named token"})


def test_the_environments_token_is_an_admins(guarded: Harness) -> None:
    assert _ask(TOKEN) == (
        200,
        {"name": "BILLING_TOKEN", "role": "admin", "via": "environment token"},
    )


def test_without_auth_anybody_is_an_anonymous_admin(harness: Harness) -> None:
    assert _ask(None) == (200, {"name": "anonymous", "role": "admin", "via": "no auth"})


def test_without_a_token_or_with_a_revoked_one_it_is_refused(guarded: Harness) -> None:
    assert _ask(None)[0] == 401
    store = guarded.services.tokens
    assert store is not None
    secret = new_token()
    store.create(StoredToken("gone", Role.ADMIN, digest(secret), "2026-12-06T08:00:00.000Z"))
    store.revoke("gone", "2026-12-06T09:00:00.000Z", "BILLING_TOKEN")
    status, problem = _ask(secret)
    assert status == 401 and "revoked" in problem["detail"]


def test_without_a_token_store_it_still_answers(guarded: Harness) -> None:
    """The token operations answer 501 without TOKENS_BUCKET; whoami needs no store."""
    guarded.services.settings = replace(guarded.services.settings, tokens_bucket=None)
    assert _ask(TOKEN)[1]["name"] == "BILLING_TOKEN"


def test_the_document_describes_the_answer() -> None:
    described = client("coordinator").get("/openapi.json").get_json()
    operation = described["paths"]["/whoami"]["get"]
    assert operation["operationId"] == "whoAmI"
    assert operation["x-required-role"] == "viewer"
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/WhoAmI"}
    shape = described["components"]["schemas"]["WhoAmI"]
    assert set(shape["required"]) == {"name", "role", "via"}
    assert shape["properties"]["role"]["enum"] == ["viewer", "operator", "admin"]
