"""The operations' declarations: dispatch, refusals and the OpenAPI paths all come from them."""

from __future__ import annotations

from typing import Annotated, Any

import pytest

import functions.crm.api
import functions.runs.coordinator
from functions.errors import InvalidRequest, MethodNotAllowed, NotFound
from functions.http import openapi
from functions.http.operation import Operation, Parameters, Reply
from functions.http.parameters import RUN_ID, WholeNumber
from functions.http.web import HttpRequest, HttpResponse
from functions.wire.identifiers import RunId
from runtime.routing import Router

APIS = {"coordinator": functions.runs.coordinator.API, "crm": functions.crm.api.API}
RUN = "run-20261128T001500-0a1b2c3d"


@pytest.mark.parametrize("function", APIS)
def test_every_operation_is_in_the_document_and_nothing_else(function: str) -> None:
    api = APIS[function]
    paths = openapi.document(api)["paths"]
    assert {(path, method.upper()) for path, ops in paths.items() for method in ops} == {
        (operation.path, operation.method) for operation in api.operations
    }
    described = {op["operationId"] for ops in paths.values() for op in ops.values()}
    assert described == {operation.operation_id for operation in api.operations}


class RunPath(Parameters):
    run_id: Annotated[RunId, RUN_ID]


class Page(Parameters):
    limit: Annotated[int, WholeNumber(1, 5)] = 2


def _echo(context: object, path: RunPath, query: Page) -> HttpResponse[dict[str, Any]]:
    return HttpResponse(200, {"context": context, "run": path.run_id, "limit": query.limit})


ROUTER = Router(
    "coordinator",
    [
        Operation(
            "GET",
            "/runs/{runId}",
            "getRun",
            "echo",
            _echo,
            {200: Reply("it", {"type": "object"})},
            RunPath,
            Page,
        )
    ],
)


def test_a_head_is_answered_by_the_gets_operation() -> None:
    """HTTP asks every server to take HEAD where it takes GET (RFC 9110, 9.1)."""
    response = ROUTER.dispatch(HttpRequest("HEAD", f"/runs/{RUN}", {"limit": "3"}), "ctx")
    assert response.body["limit"] == 3


def test_parameters_reach_the_handler_typed() -> None:
    response = ROUTER.dispatch(HttpRequest("GET", f"/runs/{RUN}/", {"limit": "3"}), "ctx")
    assert response.body == {"context": "ctx", "run": RUN, "limit": 3}
    assert isinstance(response.body["run"], RunId)
    assert ROUTER.dispatch(HttpRequest("GET", f"/runs/{RUN}"), None).body["limit"] == 2


@pytest.mark.parametrize(
    ("request_", "refusal", "text"),
    [
        (HttpRequest("GET", "/bills"), NotFound, "takes GET /runs/{runId}"),
        (HttpRequest("POST", f"/runs/{RUN}"), MethodNotAllowed, "use GET or HEAD"),
        (HttpRequest("GET", f"/runs/{RUN}", {"lmit": "x"}), InvalidRequest, "it takes limit"),
        (HttpRequest("GET", f"/runs/{RUN}", {"limit": "6"}), InvalidRequest, "from 1 to 5"),
        (HttpRequest("GET", "/runs/r-1"), InvalidRequest, "runId='r-1' is not a run id"),
    ],
)
def test_what_the_declarations_do_not_offer_is_refused_naming_what_they_do(
    request_: HttpRequest, refusal: type[InvalidRequest], text: str
) -> None:
    with pytest.raises(refusal, match=text.replace("{", r"\{").replace("}", r"\}")):
        ROUTER.dispatch(request_, None)
