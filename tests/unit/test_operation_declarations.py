"""An operation's declaration and its handler are held together: a handler that takes other
parts than its declaration reads, or types one otherwise, stops the import; in this tier,
an answer its declared type does not take fails the request."""

from __future__ import annotations

from typing import Any

import pytest
from typing_extensions import TypedDict

from functions.errors import ConfigurationError
from functions.http.operation import Api, Parameters, Reply
from functions.http.web import HttpRequest, HttpResponse


class Query(Parameters):
    name: str


class OtherQuery(Parameters):
    name: str


class Answer(TypedDict):
    count: int


def test_a_handler_without_a_declared_part_stops_the_import() -> None:
    api = Api("t", "t")
    with pytest.raises(ConfigurationError, match=r"takes \[\] after its context.*\['query'\]"):

        @api.operation("GET", "/", "listThings", summary="s", query=Query, replies={})
        def list_things(_context: object) -> HttpResponse[Any]:
            raise AssertionError("never called")


def test_a_handler_taking_an_undeclared_part_stops_the_import() -> None:
    api = Api("t", "t")
    with pytest.raises(ConfigurationError, match=r"takes \['body'\]"):

        @api.operation("GET", "/", "listThings", summary="s", replies={})
        def list_things(_context: object, body: dict[str, Any]) -> HttpResponse[Any]:
            raise AssertionError("never called")


def test_a_part_typed_otherwise_than_declared_stops_the_import() -> None:
    api = Api("t", "t")
    with pytest.raises(ConfigurationError, match=r"types query as .*OtherQuery"):

        @api.operation("GET", "/", "listThings", summary="s", query=Query, replies={})
        def list_things(_context: object, query: OtherQuery) -> HttpResponse[Any]:
            raise AssertionError("never called")


def _serving(answer: HttpResponse[Any]) -> Any:
    api = Api("t", "t")

    @api.operation(
        "GET", "/", "countThings", summary="s", replies={200: Reply("the count", Answer)}
    )
    def count_things(_context: object) -> HttpResponse[Any]:
        return answer

    return api.operations[0]


def test_an_answer_its_type_takes_is_answered() -> None:
    operation = _serving(HttpResponse(200, {"count": 3}))
    assert operation.call(HttpRequest("GET"), None, {}).body == {"count": 3}


@pytest.mark.parametrize(
    "answer",
    [
        HttpResponse(200, {"count": "3"}),  # a number as text
        HttpResponse(200, {"total": 3}),  # a key it does not declare, none it does
        HttpResponse(201, {"count": 3}),  # a status it does not declare
    ],
)
def test_an_answer_its_declaration_does_not_take_fails_in_this_tier(
    answer: HttpResponse[Any],
) -> None:
    with pytest.raises(AssertionError, match="countThings answered"):
        _serving(answer).call(HttpRequest("GET"), None, {})
