"""GET /customer-search: the CRM's customers found by the start of a first or last name,
a page at a time, at a cost of the page."""

from __future__ import annotations

import pytest

from functions.storage.migrations import index_customer_names
from functions.wire.messages import Customer
from tests.unit.harness import Harness, S3Harness, client, s3_requests


def named(customer_id: str, first: str, last: str) -> Customer:
    return Customer(customer_id, first, last, "Delft", "1", "0")


def found(query: str) -> list[str]:
    response = client("crm").get(f"/customer-search?{query}")
    assert response.status_code == 200, response.get_json()
    return [customer["customerId"] for customer in response.get_json()]


def test_a_customer_is_found_by_the_start_of_either_name_in_any_case(harness: Harness) -> None:
    client("crm").get("/?customerId=1")  # the seed: John Doe, Jane Quiz, Yasmin Johansson...
    assert found("name=john") == ["1"]
    assert found("name=jo") == ["6", "1"]  # in the words' order: johansson, john
    assert found("name=DOE") == ["1"]
    assert found("name=Qu") == ["2"]
    assert found("name=zzz") == []
    created = client("crm").post(
        "/customers",
        json={"firstName": "Joan", "lastName": "van Dijk", "city": "Ede"}
        | {"connectionId": "1", "connectionMandate": "0"},
    )
    new_id = created.get_json()["customerId"]
    assert found("name=jo") == [new_id, "6", "1"]
    assert found("name=dij") == [new_id]
    assert found("name=van") == [new_id]


def test_a_search_is_paged_and_a_page_costs_a_listing_and_its_reads(s3_harness: S3Harness) -> None:
    crm = client("crm")
    crm.get("/?customerId=1")
    customers = s3_harness.services.context.customers
    customers.put_all([named(str(n), f"Smith{n:02d}", "Brown") for n in range(10, 40)])
    before = s3_requests()
    first = crm.get("/customer-search?name=smith&limit=10")
    assert s3_requests() - before == 1 + 10
    assert [c["customerId"] for c in first.get_json()] == [str(n) for n in range(10, 20)]
    link = first.headers["Link"]
    assert link.startswith("</customer-search?name=smith&after=") and 'rel="next"' in link
    path = link[1 : link.index(">")]
    second = crm.get(path)
    assert [c["customerId"] for c in second.get_json()] == [str(n) for n in range(20, 30)]
    everyone = found("name=brown&limit=500")
    assert everyone == [str(n) for n in range(10, 40)]


def test_a_renamed_customer_is_found_by_its_new_name_only(harness: Harness) -> None:
    client("crm").get("/?customerId=1")
    renamed = client("crm").post("/customers/1", json={"firstName": "Johanna"})
    assert renamed.status_code == 200
    assert found("name=johanna") == ["1"]
    assert found("name=john") == [], "the old name's key is skipped"
    assert found("name=doe") == ["1"]


@pytest.mark.parametrize(
    ("query", "complaint"),
    [
        ("", "give the start of a first or last name"),
        ("name=%20", "give the start of a first or last name"),
        ("name=" + "a" * 101, "1 to 100 characters"),
        ("name=" + "a" * 100 + "%20", "1 to 100 characters"),  # as sent, as documented
        ("name=a&limit=0", "limit must be a whole number from 1 to 500"),
        ("name=a&after=%01", "after is not a cursor this search gave"),
        ("name=a&nme=b", "unknown query parameter(s) 'nme'"),
    ],
)
def test_a_bad_search_says_what_is_wrong(harness: Harness, query: str, complaint: str) -> None:
    response = client("crm").get(f"/customer-search?{query}")
    assert response.status_code == 400
    assert complaint in response.get_json()["detail"]


def test_customers_stored_before_the_search_are_indexed_once(harness: Harness) -> None:
    settings = harness.services.settings
    bucket = harness.bucket(settings.customers_bucket)
    for customer in [named("1", "Ada", "Lovelace"), named("2", "Alan", "Turing")]:
        bucket.put_json(f"customers/01/_/{customer.customer_id}.json", customer.to_wire())
    assert found("name=turing") == []  # the CRM seeds the other six, indexed
    customers = harness.services.context.customers
    assert index_customer_names(bucket, customers) == 8
    assert found("name=turing") == ["2"]
    assert found("name=a") == ["1", "2"]
    assert index_customer_names(bucket, customers) == 0, "done once"
