"""crm: the CRM's HTTP API, as the lab's CRM offers it.

- ``GET /?customerId=N``: one customer, or 404
- ``GET /[?after=<id>&limit=N]``: a page of customers in id order; ``Link: <...>; rel="next"``
  names the next page (the lab's CRM gave every customer at once)
- ``GET /customer-ids[?after=<id>&limit=N]``: the same, ids only, 10,000 a page by default
- ``GET /customer-search?name=<start>``: customers a word of whose names starts so, paged
- ``POST /customers``: create a customer under a new id; or, given a JSON list, import them
- ``POST /customers/<id>``: update the given fields of a customer, or 404
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import urlencode

from functions import query
from functions.customers import create, import_all, update
from functions.errors import InvalidRequest, NotFound
from functions.identifiers import CUSTOMER_ID_RULE, is_customer_id
from functions.storage import CustomerStore, Page
from functions.web import HttpRequest, HttpResponse, Route

log = logging.getLogger(__name__)

# Page sizes (default, most): a customer costs a read, ids a listing per shard of up to 1,000.
CUSTOMERS_PAGE = (100, 500)
IDS_PAGE = (10_000, 10_000)
MAX_NAME_SEARCH = 100
MAX_SEARCH_CURSOR = 400
SEARCH_CURSOR = re.compile(r"[ -~]*")  # a name key's tail: percent-encoded, so ASCII


def _customer_id(text: str) -> str:
    if not is_customer_id(text):
        raise InvalidRequest(f"{text!r} is not a customer id ({CUSTOMER_ID_RULE})")
    return text


def _paging(request: HttpRequest, sizes: tuple[int, int]) -> tuple[str, int]:
    """The ``after`` cursor and the page size a listing was asked for."""
    after = request.query.get("after", "")
    if "after" in request.query and not is_customer_id(after):
        raise InvalidRequest(f"after={after!r} is not a customer id ({CUSTOMER_ID_RULE})")
    default, most = sizes
    return after, query.whole_number(request.query, "limit", 1, most, default)


def _paged(request: HttpRequest, page: Page[Any], limit: int) -> HttpResponse:
    if page.next_after is None:
        return HttpResponse(200, page.items)
    link = urlencode({"after": page.next_after, "limit": limit})
    return HttpResponse(200, page.items, {"Link": f'<{request.path}?{link}>; rel="next"'})


def get_customers(request: HttpRequest, customers: CustomerStore) -> HttpResponse:
    after, limit = _paging(request, CUSTOMERS_PAGE)
    if "customerId" not in request.query:
        page = customers.page(after, limit)
        return _paged(request, Page([c.to_wire() for c in page.items], page.next_after), limit)
    customer_id = _customer_id(request.query["customerId"])
    customer = customers.get(customer_id)
    if customer is None:
        raise NotFound(f"there is no customer {customer_id!r}")
    return HttpResponse(200, customer.to_wire())


def search_customers(request: HttpRequest, customers: CustomerStore) -> HttpResponse:
    """Customers with a word of their names starting with ``name``, a page at a time."""
    name = request.query.get("name", "").strip()
    if not 0 < len(name) <= MAX_NAME_SEARCH:
        raise InvalidRequest(
            f"name={name!r}; give the start of a first or last name, 1 to"
            f" {MAX_NAME_SEARCH} characters"
        )
    after = request.query.get("after", "")
    if len(after) > MAX_SEARCH_CURSOR or not SEARCH_CURSOR.fullmatch(after):
        raise InvalidRequest("after is not a cursor this search gave; start from the first page")
    default, most = CUSTOMERS_PAGE
    limit = query.whole_number(request.query, "limit", 1, most, default)
    page = customers.search(name, after, limit)
    found = [customer.to_wire() for customer in page.items]
    if page.next_after is None:
        return HttpResponse(200, found)
    link = urlencode({"name": name, "after": page.next_after, "limit": limit})
    return HttpResponse(200, found, {"Link": f'<{request.path}?{link}>; rel="next"'})


def get_customer_ids(request: HttpRequest, customers: CustomerStore) -> HttpResponse:
    after, limit = _paging(request, IDS_PAGE)
    return _paged(request, customers.id_page(after, limit), limit)


def create_customer(request: HttpRequest, customers: CustomerStore) -> HttpResponse:
    body = request.json()
    if isinstance(body, list):
        imported = import_all(body, customers)
        replayed = {"Idempotent-Replayed": "true"} if imported.replayed else {}
        return HttpResponse(201, [c.to_wire() for c in imported.customers], replayed)
    if not isinstance(body, dict):
        raise InvalidRequest(
            f"the request body must be a customer (a JSON object) or a list of them,"
            f" not {type(body).__name__}"
        )
    return HttpResponse(201, create(body, customers).to_wire())


def update_customer(
    request: HttpRequest, customers: CustomerStore, customer_id: str
) -> HttpResponse:
    return HttpResponse(
        200, update(_customer_id(customer_id), request.json_object(), customers).to_wire()
    )


# What the CRM answers, as the lab's CRM does; its OpenAPI document is built from this.
ROUTES = (
    Route("GET", "/", "getCustomers", get_customers),
    Route("GET", "/customer-ids", "getCustomerIds", get_customer_ids),
    Route("GET", "/customer-search", "searchCustomers", search_customers),
    Route("POST", "/customers", "createCustomer", create_customer),
    Route("POST", "/customers/{customerId}", "updateCustomer", update_customer),
)
