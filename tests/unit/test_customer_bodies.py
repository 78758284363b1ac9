"""The CRM's bodies are checked as their types say, and as the document says: a customer
id named again in an import is refused at each repeat, with the other problems of the list;
a field is bounded as the document bounds it; a field name UTF-8 cannot hold is refused at
the name."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers.lab import ADA
from tests.unit.harness import Harness, client


def test_an_import_naming_a_customer_id_again_is_refused_at_each_repeat(harness: Harness) -> None:
    crm = client("crm")
    thrice = [ADA | {"customerId": "C-7"}] * 3
    response = crm.post("/customers", json=thrice)
    problem = response.get_json()
    assert response.status_code == 422, problem
    assert [item["loc"] for item in problem["errors"]] == [
        ["body", 1, "customerId"],
        ["body", 2, "customerId"],
    ]
    assert "[2] customerId 'C-7' is also at [0]" in problem["errors"][1]["detail"]
    with_a_bad_item = [ADA | {"customerId": "C-7"}, ADA | {"customerId": "C-7"}, ADA | {"city": ""}]
    problem = crm.post("/customers", json=with_a_bad_item).get_json()
    assert problem["status"] == 400
    assert sorted(item["loc"] for item in problem["errors"]) == [
        ["body", 1, "customerId"],
        ["body", 2, "city"],
    ]
    assert crm.get("/?customerId=C-7").status_code == 404


@pytest.mark.parametrize(
    ("value", "status"),
    [
        (10**198 - 1, 201),
        (10**198, 400),  # the document's exclusiveMaximum
        (-(10**198), 400),
        (1e198, 400),  # the float is above 10**198
        ("D\ud800", 400),  # a lone surrogate: UTF-8 cannot hold it
    ],
)
def test_a_field_is_bounded_as_the_document_bounds_it(
    harness: Harness, value: Any, status: int
) -> None:
    response = client("crm").post("/customers", json=ADA | {"connectionId": value})
    assert response.status_code == status, response.get_json()


def test_a_field_name_with_a_lone_surrogate_is_refused_at_the_name(harness: Harness) -> None:
    response = client("crm").post("/customers", json=ADA | {"\ud800": 1})
    problem = response.get_json()
    assert response.status_code == 400
    assert problem["errors"][0]["loc"] == ["body", "\\ud800"]
    assert "lone surrogate" in problem["errors"][0]["detail"]
