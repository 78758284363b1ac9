"""crm: the CRM's HTTP API, as the lab's CRM offers it.

- ``GET /?customerId=N``: one customer, or 404
- ``GET /``: every customer
- ``POST /customers``: create a customer; its id is the highest numeric id plus one
- ``POST /customers/<id>``: update the given fields of a customer, or 404
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterable, Mapping
from dataclasses import replace
from importlib import resources
from typing import Any

from functions.errors import InvalidRequest, NotFound
from functions.identifiers import CUSTOMER_ID_RULE, is_customer_id
from functions.messages import Customer
from functions.storage import CustomerStore
from functions.web import HttpRequest, HttpResponse, Route

log = logging.getLogger(__name__)

EDITABLE = {
    "firstName": "first_name",
    "lastName": "last_name",
    "city": "city",
    "connectionId": "connection_id",
    "connectionMandate": "connection_mandate",
}
_CREATE_ATTEMPTS = 20


def seed_customers() -> list[Customer]:
    """The lab's customer file; a row without an id gets the highest id plus one."""
    text = resources.files("functions").joinpath("data/customer-database.csv").read_text("utf-8")
    rows = [row for row in csv.DictReader(io.StringIO(text)) if any(row.values())]
    customers: list[Customer] = []
    for row in rows:
        values = {key.strip(): (value or "").strip() for key, value in row.items()}
        if not values["customerId"]:
            values["customerId"] = str(
                _next_id(int(c.customer_id) for c in customers if c.customer_id.isdigit())
            )
        customers.append(Customer.from_wire(values))
    return customers


def _next_id(numeric_ids: Iterable[int]) -> int:
    return max(numeric_ids, default=0) + 1


def _by_id(customer: Customer) -> tuple[int, str]:
    cid = customer.customer_id
    return (int(cid), "") if cid.isdigit() else (1 << 62, cid)


def _editable_fields(body: Mapping[str, Any]) -> dict[str, str]:
    unknown = sorted(set(body) - set(EDITABLE) - {"customerId"})
    if unknown:
        raise InvalidRequest(f"unknown field(s) {unknown}; a customer has {sorted(EDITABLE)}")
    changes = {}
    for name, attribute in EDITABLE.items():
        if name not in body:
            continue
        value = body[name]
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            raise InvalidRequest(f'"{name}" must be a non-empty string, got {value!r}')
        changes[attribute] = value.strip()
    return changes


def _create(body: Mapping[str, Any], customers: CustomerStore) -> HttpResponse:
    fields = _editable_fields(body)
    missing = [name for name, attribute in EDITABLE.items() if attribute not in fields]
    if missing:
        raise InvalidRequest(f"a new customer needs {missing}")
    # The next id comes from a hint, so a create costs the same whatever the CRM holds;
    # a stale hint (racing creators) costs a few more tries, a lost one a recount.
    for recount in (False, True):
        first = customers.next_free_id(recount)
        for candidate in range(first, first + _CREATE_ATTEMPTS):
            customer = Customer(customer_id=str(candidate), **fields)
            if customers.add(customer):
                customers.remember_next_id(candidate + 1)
                log.info("customer %s created", customer.customer_id)
                return HttpResponse(201, customer.to_wire())
    raise InvalidRequest("too many customers are being created at once; try again", status=503)


def _update(customer_id: str, body: Mapping[str, Any], customers: CustomerStore) -> HttpResponse:
    current = customers.get(customer_id)
    if current is None:
        raise NotFound(f"there is no customer {customer_id!r}")
    updated = replace(current, **_editable_fields(body))
    customers.put(updated)
    log.info("customer %s updated", customer_id)
    return HttpResponse(200, updated.to_wire())


def _customer_id(text: str) -> str:
    if not is_customer_id(text):
        raise InvalidRequest(f"{text!r} is not a customer id ({CUSTOMER_ID_RULE})")
    return text


def get_customers(request: HttpRequest, customers: CustomerStore) -> HttpResponse:
    if "customerId" not in request.query:
        return HttpResponse(200, [c.to_wire() for c in sorted(customers.all(), key=_by_id)])
    customer_id = _customer_id(request.query["customerId"])
    customer = customers.get(customer_id)
    if customer is None:
        raise NotFound(f"there is no customer {customer_id!r}")
    return HttpResponse(200, customer.to_wire())


def create_customer(request: HttpRequest, customers: CustomerStore) -> HttpResponse:
    return _create(request.json_object(), customers)


def update_customer(
    request: HttpRequest, customers: CustomerStore, customer_id: str
) -> HttpResponse:
    return _update(_customer_id(customer_id), request.json_object(), customers)


# What the CRM answers, as the lab's CRM does; its OpenAPI document is built from this.
ROUTES = (
    Route("GET", "/", "getCustomers", get_customers),
    Route("POST", "/customers", "createCustomer", create_customer),
    Route("POST", "/customers/{customerId}", "updateCustomer", update_customer),
)
