"""The route tables: dispatch, refusals and the OpenAPI paths all come from them."""

from __future__ import annotations

import pytest

import functions.coordinator
import functions.crm_api
from functions import openapi
from functions.errors import InvalidRequest, MethodNotAllowed, NotFound
from functions.web import HttpRequest, HttpResponse, Route
from runtime.routing import Router

TABLES = {"coordinator": functions.coordinator.ROUTES, "crm": functions.crm_api.ROUTES}


@pytest.mark.parametrize("function", TABLES)
def test_every_described_operation_is_routed_and_every_route_described(function: str) -> None:
    routes = TABLES[function]
    described = set(openapi.DESCRIPTIONS[function].operations)
    assert {route.operation_id for route in routes} == described
    paths = openapi.document(function, routes)["paths"]
    assert {(path, method.upper()) for path, ops in paths.items() for method in ops} == {
        (route.path, route.method) for route in routes
    }


def _echo(request: HttpRequest, context: object, **parameters: str) -> HttpResponse:
    return HttpResponse(200, {"context": context, **parameters})


ROUTER = Router("coordinator", [Route("GET", "/runs/{runId}", "getRun", _echo)])


def test_path_parameters_reach_the_handler_in_snake_case() -> None:
    response = ROUTER.dispatch(HttpRequest("GET", "/runs/r-1/"), "ctx")
    assert response.body == {"context": "ctx", "run_id": "r-1"}


@pytest.mark.parametrize(
    ("request_", "refusal", "text"),
    [
        (HttpRequest("GET", "/bills"), NotFound, "takes GET /runs/{runId}"),
        (HttpRequest("POST", "/runs/r-1"), MethodNotAllowed, "use GET"),
        (HttpRequest("HEAD", "/runs/r-1"), MethodNotAllowed, "use GET"),
        (HttpRequest("GET", "/runs/r-1", {"stat": "x"}), InvalidRequest, "it takes state"),
    ],
)
def test_what_the_table_does_not_offer_is_refused_naming_what_it_does(
    request_: HttpRequest, refusal: type[InvalidRequest], text: str
) -> None:
    with pytest.raises(refusal, match=text.replace("{", r"\{").replace("}", r"\}")):
        ROUTER.dispatch(request_, None)
