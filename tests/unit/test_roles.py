"""Who may call what, read from the operations' declarations alone: every operation of both
HTTP functions tried with no token and with a named token of each role, then with an
OpenID Connect issuer's JWT of each role, on functions-framework and on the Lambda adapter
(401 without a token, 403 below the role the operation declares, neither at or above it);
the document shows each operation's role; and every operation states its role."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from functions.access import Role, digest, new_token
from functions.http.operation import Operation, Reply
from functions.http.web import HttpRequest, HttpResponse
from functions.storage.base import StoredToken
from runtime.aws_lambda.http import HttpAdapter
from runtime.http_function import HttpFunction
from runtime.routing import Router
from tests.helpers.oidc import Issuer
from tests.unit.harness import Harness, client, function_url_event

FUNCTIONS = ("coordinator", "crm")
# A value for each path parameter any operation declares: the request reaches the handler.
SAMPLES = {
    "runId": "run-20261128T001500-0a1b2c3d",
    "customerId": "1",
    "period": "2026-12",
    "name": "nobody-of-that-name",
    "asset": "app.js",
}
ADAPTERS = ("functions-framework", "lambda")


def operations(function: str) -> list[Operation]:
    return list(HttpFunction(function, lambda: None).api.operations)  # type: ignore[arg-type, return-value]


CASES = [
    pytest.param(function, operation, id=f"{function}-{operation.operation_id}")
    for function in FUNCTIONS
    for operation in operations(function)
]


@pytest.fixture(params=["named token", "oidc"])
def tokens(request: pytest.FixtureRequest, guarded: Harness, issuer: Issuer) -> dict[Role, str]:
    """A bearer token of each role: a named token of the guarded functions' store, or a
    JWT of the issuer the functions take (whose role claim names that role)."""
    if request.param == "oidc":
        request.getfixturevalue("oidc_guarded")
        return {role: issuer.token(roles=[role.value]) for role in Role}
    store = guarded.services.tokens
    assert store is not None
    tokens = {}
    for role in Role:
        secret = new_token()
        store.create(StoredToken(f"a-{role}", role, digest(secret), "2026-12-01T08:00:00.000Z"))
        tokens[role] = secret
    return tokens


def _path(operation: Operation) -> str:
    names = re.findall(r"\{(\w+)\}", operation.path)
    missing = [name for name in names if name not in SAMPLES]
    assert not missing, f"give SAMPLES a value for {missing} ({operation.operation_id})"
    return re.sub(r"\{(\w+)\}", lambda m: SAMPLES[m.group(1)], operation.path)


def _ask(
    adapter: str, function: str, operation: Operation, token: str | None, harness: Harness
) -> tuple[int, dict[str, Any] | None]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = None
    if operation.method == "POST":
        headers["Content-Type"] = "application/json"
        body = "{}"
    path = _path(operation)
    if adapter == "functions-framework":
        answer = client(function).open(path, method=operation.method, data=body, headers=headers)
        problem = answer.get_json(silent=True)
        return answer.status_code, problem if isinstance(problem, dict) else None
    lambda_adapter = HttpAdapter(HttpFunction(function, lambda: harness.services))
    answered = lambda_adapter(function_url_event(operation.method, path, headers, body))
    kind = answered["headers"].get("Content-Type", "")
    problem = json.loads(answered["body"]) if "json" in kind else None
    return answered["statusCode"], problem


@pytest.mark.parametrize("adapter", ADAPTERS)
@pytest.mark.parametrize(("function", "operation"), CASES)
def test_each_operation_takes_its_role_and_above_and_refuses_the_rest(
    adapter: str,
    function: str,
    operation: Operation,
    guarded: Harness,
    tokens: dict[Role, str],
) -> None:
    needed = operation.required_role
    status, problem = _ask(adapter, function, operation, None, guarded)
    if needed is None:
        assert status not in (401, 403), (status, problem)
    else:
        assert status == 401, (status, problem)
    for role, token in tokens.items():
        status, problem = _ask(adapter, function, operation, token, guarded)
        if needed is not None and not role.allows(needed):
            assert status == 403, (role, status, problem)
            assert problem is not None
            assert (problem["requiredRole"], problem["role"]) == (needed, role)
            assert f"role {needed}" in problem["detail"] and f"role {role}" in problem["detail"]
        else:
            assert status not in (401, 403) and status < 500, (role, status, problem)
    assert guarded.publisher.published == []


def test_every_operation_states_who_may_call_it() -> None:
    for function in FUNCTIONS:
        for operation in operations(function):
            assert operation.public or operation.role is not None, operation.operation_id


def test_the_roles_are_the_issues_table() -> None:
    """viewer reads; operator also starts, retries and cancels runs, and reads who did what
    (the audit); admin also changes customers and manages tokens; the documents, the
    metrics and the console need none."""
    needs = {op.operation_id: op.required_role for f in FUNCTIONS for op in operations(f)}
    public = {"getOpenApi", "getMetrics", "getConsole", "getConsoleAsset"}
    assert {name for name, role in needs.items() if role is None} == public
    reads = {op.operation_id for f in FUNCTIONS for op in operations(f) if op.method == "GET"}
    assert {name for name, role in needs.items() if role is Role.VIEWER} == reads - public - {
        "listTokens",
        "listAudit",
    }
    assert {name for name, role in needs.items() if role is Role.OPERATOR} == {
        "startRun",
        "retryRun",
        "cancelRun",
        "listAudit",
    }
    assert {name for name, role in needs.items() if role is Role.ADMIN} == {
        "createCustomer",
        "updateCustomer",
        "createToken",
        "listTokens",
        "revokeToken",
    }


@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_document_shows_each_operations_role_and_its_refusals(function: str) -> None:
    paths = client(function).get("/openapi.json").get_json()["paths"]
    for operation in operations(function):
        described = paths[operation.path][operation.method.lower()]
        role = operation.required_role
        if role is None:
            assert described["security"] == []
            assert "401" not in described["responses"]
            continue
        assert described["security"] == [{"bearer": [role.value]}]
        assert described["x-required-role"] == role.value
        assert f"the role {role}" in described["description"]
        assert {"401", "403"} <= set(described["responses"])
        assert "WWW-Authenticate" in described["responses"]["403"]["headers"]


def test_an_operation_that_is_not_public_wants_its_token_on_a_public_path(
    guarded: Harness,
) -> None:
    """Were a protected operation to share a public path (a POST beside the document's GET),
    the path's being public would not open it."""
    function = HttpFunction("crm", lambda: guarded.services)
    described = next(op for op in function.api.operations if op.operation_id == "getOpenApi")
    protected = Operation(
        "POST",
        "/openapi.json",
        "changeTheDocument",
        "s",
        lambda _context: HttpResponse(200, {}),
        {200: Reply("it", {"type": "object"})},
        role=Role.VIEWER,
    )
    function.router = Router("crm", [described, protected])
    function._contexts[protected] = lambda _services: None
    request = HttpRequest("POST", "/openapi.json")
    assert function(request, lambda: b"").status == 401
    viewer = {"authorization": f"Bearer {_viewer(guarded)}"}
    assert function(HttpRequest("POST", "/openapi.json", headers=viewer), lambda: b"").status == 200
    assert function(HttpRequest("GET", "/openapi.json"), lambda: b"").status == 200


def _viewer(harness: Harness) -> str:
    store = harness.services.tokens
    assert store is not None
    secret = new_token()
    store.create(StoredToken("one-viewer", Role.VIEWER, digest(secret), "2026-12-01T08:00:00Z"))
    return secret
