"""crm: the CRM's HTTP API, as the lab's CRM offers it, each operation declared once, below,
beside its handler (``functions/http/operation.py``); what changes customers is in
``customers.py``.

- ``GET /?customerId=N``: one customer, or 404
- ``GET /[?after=<id>&limit=N]``: a page of customers in id order; ``Link: <...>; rel="next"``
  names the next page (the lab's CRM gave every customer at once)
- ``GET /customer-ids[?after=<id>&limit=N]``: the same, ids only, 10,000 a page by default
- ``GET /customer-search?name=<start>``: customers a word of whose names starts so, paged
- ``POST /customers``: create a customer under a new id; or, given a JSON list, import them
- ``POST /customers/<id>``: update the given fields of a customer, or 404
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import urlencode

from typing_extensions import TypedDict

from functions.access import Role
from functions.crm.customer_bodies import (
    NEW_CUSTOMER,
    CustomerChanges,
    CustomerList,
    NewCustomer,
    plan_import,
    repeated_ids,
)
from functions.crm.customers import (
    EDITABLE,
    MAX_CUSTOMERS_PER_IMPORT,
    create,
    import_all,
    kept_fields,
    update,
)
from functions.errors import NotFound
from functions.http.bodies import Body
from functions.http.operation import Api, Paged, Parameters, Reply
from functions.http.parameters import CUSTOMER_ID_TEXT, NOT_BLANK, Text, WholeNumber
from functions.http.web import HttpResponse, documented
from functions.storage import CustomerStore, Page
from functions.wire.identifiers import CustomerIdText
from functions.wire.messages import Customer

MAX_NAME_SEARCH = 100
MAX_SEARCH_CURSOR = 400
SEARCH_CURSOR = re.compile(r"[ -~]*")  # a name key's tail: percent-encoded, so ASCII
S3_DOWN = Reply("S3 is unavailable")
NEXT_PAGE = {
    "Link": {
        "description": 'the next page, `<...?after=<id>&limit=N>; rel="next"`; absent on the last',
        "schema": {"type": "string"},
    }
}
API = Api("CRM", "The CRM's customers, as the lab's CRM offers them.")
CustomerIdParameter = Annotated[str, CUSTOMER_ID_TEXT]


@documented
class CustomerAnswer(TypedDict):
    """A customer, as the lab's CRM gives it."""

    customerId: str
    firstName: str
    lastName: str
    city: str
    connectionId: str
    connectionMandate: str


def _answer(customer: Customer) -> CustomerAnswer:
    return CustomerAnswer(
        customerId=customer.customer_id,
        firstName=customer.first_name,
        lastName=customer.last_name,
        city=customer.city,
        connectionId=customer.connection_id,
        connectionMandate=customer.connection_mandate,
    )


def _page(path: str, page: Page[Any], limit: int, **asked: str) -> HttpResponse[Any]:
    """A page, with a ``Link`` to the next unless it is the last."""
    if page.next_after is None:
        return HttpResponse(200, page.items)
    link = urlencode({**asked, "after": page.next_after, "limit": limit})
    return HttpResponse(200, page.items, {"Link": f'<{path}?{link}>; rel="next"'})


class CustomersQuery(Paged[CustomerIdParameter]):
    after: CustomerIdParameter | None = None
    """the cursor: the last id of the page before; the customers after it"""
    limit: Annotated[int, WholeNumber(1, 500)] = 100
    """the page's size"""
    customer_id: CustomerIdParameter | None = None
    """this customer alone (after and limit are then not used)"""


@API.operation(
    "GET",
    "/",
    "getCustomers",
    role=Role.VIEWER,
    summary="One customer (with customerId; after and limit are then not used),"
    " or a page of customers in id order",
    query=CustomersQuery,
    replies={
        200: Reply(
            "the customer, or a page of customers",
            CustomerAnswer | list[CustomerAnswer],
            headers=NEXT_PAGE,
        ),
        400: Reply("not a customer id, or a limit out of range"),
        404: Reply("there is no such customer"),
        503: S3_DOWN,
    },
)
def get_customers(customers: CustomerStore, query: CustomersQuery) -> HttpResponse[Any]:
    if query.customer_id is None:
        page = customers.page(query.after or "", query.limit)
        answers = Page([_answer(customer) for customer in page.items], page.next_after)
        return _page("/", answers, query.limit)
    customer = customers.get(query.customer_id)
    if customer is None:
        raise NotFound(f"there is no customer {query.customer_id!r}")
    return HttpResponse(200, _answer(customer))


class CustomerIdsQuery(Paged[CustomerIdParameter]):
    after: CustomerIdParameter | None = None
    """the cursor: the last id of the page before; the ids after it"""
    limit: Annotated[int, WholeNumber(1, 10_000)] = 10_000
    """the page's size"""


@API.operation(
    "GET",
    "/customer-ids",
    "getCustomerIds",
    role=Role.VIEWER,
    summary="A page of customer ids in id order, one S3 request per 1,000",
    query=CustomerIdsQuery,
    replies={
        200: Reply("a page of ids", list[CustomerIdText], headers=NEXT_PAGE),
        400: Reply("not a customer id, or a limit out of range"),
        503: S3_DOWN,
    },
)
def get_customer_ids(customers: CustomerStore, query: CustomerIdsQuery) -> HttpResponse[list[str]]:
    page = customers.id_page(query.after or "", query.limit)
    return _page("/customer-ids", page, query.limit)


class SearchQuery(Paged[str]):
    name: Annotated[
        str,
        Text(
            re.compile(r"(?s).*"),
            "{name}={value}; give the start of a first or last name, 1 to"
            f" {MAX_NAME_SEARCH} characters",
            MAX_NAME_SEARCH,
            least=1,
            strip=True,
            schema_pattern=NOT_BLANK,
            examples=("jo",),
        ),
    ]
    """give the start of a first or last name, 1 to 100 characters: the customers a word of
    whose names starts so, any case"""
    after: (
        Annotated[
            str,
            Text(
                SEARCH_CURSOR,
                "{name} is not a cursor this search gave; start from the first page",
                MAX_SEARCH_CURSOR,
            ),
        ]
        | None
    ) = None
    """the cursor the `Link` of the page before gave"""
    limit: Annotated[int, WholeNumber(1, 500)] = 100
    """the page's size"""


@API.operation(
    "GET",
    "/customer-search",
    "searchCustomers",
    role=Role.VIEWER,
    summary="Customers a word of whose first or last name starts with `name`,"
    " any case, in the words' order: one listing and a read per customer shown",
    query=SearchQuery,
    replies={
        200: Reply("a page of customers", list[CustomerAnswer], headers=NEXT_PAGE),
        400: Reply("no name, or a limit out of range"),
        503: S3_DOWN,
    },
)
def search_customers(
    customers: CustomerStore, query: SearchQuery
) -> HttpResponse[list[CustomerAnswer]]:
    """Customers with a word of their names starting with ``name``, a page at a time."""
    page = customers.search(query.name, query.after or "", query.limit)
    found = Page([_answer(customer) for customer in page.items], page.next_after)
    return _page("/customer-search", found, query.limit, name=query.name)


@API.operation(
    "POST",
    "/customers",
    "createCustomer",
    role=Role.ADMIN,
    summary="Create a customer under a new id; or import a list of customers",
    description="A list is checked whole before anything is written: an item with a"
    " customerId is stored under it (replacing the customer there), the others get new"
    " ids. A 503 says whether nothing was imported or the import is written in part;"
    " sent again, the same list finishes it, each new customer under the id it got the"
    f" first time. At most {MAX_CUSTOMERS_PER_IMPORT} customers a request.",
    body=Body(
        NewCustomer | CustomerList,
        usage="send a customer (a JSON object) or a list of them",
        as_sent=True,
        # A list only a repeated id spoils is well-formed: 422, as a conflict in content.
        conflicts=repeated_ids,
        conflict_status=422,
    ),
    replies={
        201: Reply(
            "the customer created, or the customers imported, in order",
            CustomerAnswer | list[CustomerAnswer],
            headers={"Idempotent-Replayed": {"schema": {"enum": ["true"]}}},
        ),
        400: Reply("a field is missing or not a non-empty string (nothing imported)"),
        409: Reply("an import's planned new ids hold other customers (written in part)"),
        413: Reply(f"the body is over 1 MiB, or lists over {MAX_CUSTOMERS_PER_IMPORT} customers"),
        422: Reply("a list names a customerId twice (nothing imported)"),
        503: S3_DOWN,
    },
)
def create_customer(
    customers: CustomerStore, body: Mapping[str, Any] | list[Any]
) -> HttpResponse[Any]:
    if isinstance(body, list):
        plan = plan_import(body, [f"[{index}]" for index in range(len(body))])
        imported = import_all(body, plan, customers)
        replayed = {"Idempotent-Replayed": "true"} if imported.replayed else {}
        return HttpResponse(201, [_answer(c) for c in imported.customers], replayed)
    return HttpResponse(201, _answer(create(NEW_CUSTOMER.validate_python(body), customers)))


class CustomerPath(Parameters):
    customer_id: CustomerIdParameter


@API.operation(
    "POST",
    "/customers/{customerId}",
    "updateCustomer",
    role=Role.ADMIN,
    summary="Change the given fields of a customer",
    path_parameters=CustomerPath,
    body=Body(CustomerChanges, kept_fields),
    replies={
        200: Reply("the customer as changed", CustomerAnswer),
        400: Reply("not a customer id, or a field that cannot be set"),
        404: Reply("there is no such customer"),
        503: S3_DOWN,
    },
)
def update_customer(
    customers: CustomerStore, path: CustomerPath, body: dict[str, str]
) -> HttpResponse[CustomerAnswer]:
    return HttpResponse(200, _answer(update(path.customer_id, body, customers)))


assert set(EDITABLE) == set(CustomerChanges.__annotations__) - {"customerId"}
assert set(EDITABLE) == set(NewCustomer.__annotations__) - {"customerId"}
