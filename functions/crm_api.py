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

import hashlib
import json
import logging
import math
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

from functions import query
from functions.errors import InvalidRequest, NotFound, StorageUnavailable
from functions.identifiers import CUSTOMER_ID_RULE, is_customer_id
from functions.messages import Customer
from functions.storage import CustomerStore, Page
from functions.web import HttpRequest, HttpResponse, Route

log = logging.getLogger(__name__)

EDITABLE = {
    "firstName": "first_name",
    "lastName": "last_name",
    "city": "city",
    "connectionId": "connection_id",
    "connectionMandate": "connection_mandate",
}
# Page sizes (default, most): a customer costs a read, ids a listing per shard of up to 1,000.
CUSTOMERS_PAGE = (100, 500)
IDS_PAGE = (10_000, 10_000)
MAX_CUSTOMERS_PER_IMPORT = 1000
# Characters a customer's field may have: each is bounded before it is written, and a
# name's words stand in S3 keys (cut to keys.NAME_KEY_WORD_BYTES there).
MAX_FIELD_LENGTH = 200
MAX_NAME_SEARCH = 100
MAX_SEARCH_CURSOR = 400
SEARCH_CURSOR = re.compile(r"[ -~]*")  # a name key's tail: percent-encoded, so ASCII
_PROBLEMS_SHOWN = 20


def _editable_fields(body: Mapping[str, Any]) -> dict[str, str]:
    unknown = sorted(set(body) - set(EDITABLE) - {"customerId"})
    if unknown:
        raise InvalidRequest(f"unknown field(s) {unknown}; a customer has {sorted(EDITABLE)}")
    changes = {}
    for name, attribute in EDITABLE.items():
        if name not in body:
            continue
        changes[attribute] = _field_text(name, body[name])
    return changes


def _field_text(name: str, value: Any) -> str:
    """A customer's field as it is kept: text of 1 to ``MAX_FIELD_LENGTH`` characters, with
    no control character (a bill prints it on a line of its own) and nothing UTF-8 cannot
    encode (a lone surrogate); a finite number is taken as its text, as the lab's CRM does."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(f'"{name}" must be a non-empty string, got {value!r}'[:200])
    text = value.strip()
    if len(text) > MAX_FIELD_LENGTH:
        raise InvalidRequest(
            f'"{name}" has {len(text)} characters; a customer\'s field has at most'
            f" {MAX_FIELD_LENGTH}"
        )
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in text):
        raise InvalidRequest(
            f'"{name}" holds a control character or a lone surrogate; send printable text'
        )
    return text


def _new_customer(body: Mapping[str, Any]) -> Callable[[str], Customer]:
    """What makes the customer ``body`` describes, once it has an id."""
    fields = _editable_fields(body)
    missing = [name for name, attribute in EDITABLE.items() if attribute not in fields]
    if missing:
        raise InvalidRequest(f"a new customer needs {missing}")
    return lambda customer_id: Customer(customer_id=customer_id, **fields)


def _create(body: Mapping[str, Any], customers: CustomerStore) -> HttpResponse:
    # As the lab's CRM does, a single create gives the id; a "customerId" sent is ignored.
    [customer] = customers.add_new([_new_customer(body)])
    log.info("customer %s created", customer.customer_id)
    return HttpResponse(201, customer.to_wire())


def _import(items: list[Any], customers: CustomerStore) -> HttpResponse:
    """A list of customers: those with a ``customerId`` are stored under it (replacing
    one there), the others get new ids. Nothing is written unless every item is valid.

    An import is known by its content: its new customers' ids are fixed by its first try,
    before anything is written, so the same list sent again (after a 503, or twice) writes
    the same customers under the same ids and finishes what a failed try began."""
    if not items:
        raise InvalidRequest(
            f"the list of customers is empty; send 1 to {MAX_CUSTOMERS_PER_IMPORT} of them"
        )
    if len(items) > MAX_CUSTOMERS_PER_IMPORT:
        raise InvalidRequest(
            f"{len(items)} customers in one request; send at most {MAX_CUSTOMERS_PER_IMPORT}"
            " per request",
            status=413,
        )
    plan = plan_import(items, [f"[{index}]" for index in range(len(items))])
    if plan.problems:
        # A list only a repeated id spoils is well-formed: 422, as a conflict in content.
        status = 400 if plan.invalid else 422
        raise InvalidRequest(f"nothing was imported: {_listed(plan.problems)}", status=status)
    digest = hashlib.sha256(json.dumps(items, sort_keys=True).encode()).hexdigest()[:40]
    try:
        given_ids = [customer.customer_id for customer in plan.given.values()]
        new_ids, tried_before = customers.import_ids(digest, len(plan.new), given_ids)
    except StorageUnavailable as exc:
        raise StorageUnavailable(f"nothing was imported: {exc}") from exc
    created = {
        index: make(new_id) for (index, make), new_id in zip(plan.new.items(), new_ids, strict=True)
    }
    try:
        customers.put_all(list(plan.given.values()))
        stored_as_planned = customers.add_as_planned(list(created.values()))
    except StorageUnavailable as exc:
        raise StorageUnavailable(
            f"the import is written in part ({exc}); send the same request again to finish"
            " it: it writes the same customers under the same ids"
        ) from exc
    changed = [
        c.customer_id for c, ok in zip(created.values(), stored_as_planned, strict=True) if not ok
    ]
    if changed:
        raise InvalidRequest(
            f"this list was imported before, and customer(s) {changed[:5]}, which it created,"
            " have changed since (an update, or an import naming their ids); they are left as"
            " they are, and every other customer of the list is stored as sent. A list is"
            " known by its content: to add its customers as new ones once more, send a list"
            " that differs",
            status=409,
        )
    stored = {**plan.given, **created}
    log.info(
        "imported %d customer(s): %d new, %d by their id%s",
        len(items),
        len(created),
        len(plan.given),
        " (asked again)" if tried_before else "",
    )
    replayed = {"Idempotent-Replayed": "true"} if tried_before else {}
    body = [stored[index].to_wire() for index in range(len(items))]
    return HttpResponse(201, body, replayed)


@dataclass
class ImportPlan:
    """An import's items by position: the customers under their own ids, what makes the
    new ones, and what is wrong (each problem led by the item's label)."""

    given: dict[int, Customer] = field(default_factory=dict)
    new: dict[int, Callable[[str], Customer]] = field(default_factory=dict)
    invalid: list[tuple[int, str]] = field(default_factory=list)
    repeated: list[tuple[int, str]] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        """Every problem, in the items' order."""
        return [problem for _, problem in sorted(self.invalid + self.repeated)]


def plan_import(items: Sequence[Any], labels: Sequence[str]) -> ImportPlan:
    """Check every item of an import (``labels`` name them in problems), writing nothing."""
    plan = ImportPlan()
    first_at: dict[str, str] = {}
    for index, (item, label) in enumerate(zip(items, labels, strict=True)):
        try:
            given_or_new = _imported_customer(item)
        except InvalidRequest as exc:
            plan.invalid.append((index, f"{label}: {exc}"))
            continue
        if not isinstance(given_or_new, Customer):
            plan.new[index] = given_or_new
            continue
        plan.given[index] = given_or_new
        first = first_at.setdefault(given_or_new.customer_id, label)
        if first != label:
            problem = f"{label}: customerId {given_or_new.customer_id!r} is also at {first}"
            plan.repeated.append((index, problem))
    return plan


def _listed(problems: list[str]) -> str:
    shown = "; ".join(problems[:_PROBLEMS_SHOWN])
    hidden = len(problems) - _PROBLEMS_SHOWN
    return f"{len(problems)} invalid customer(s): {shown}" + (
        f" and {hidden} more" if hidden > 0 else ""
    )


def _imported_customer(item: Any) -> Customer | Callable[[str], Customer]:
    """An item of an import: the customer under its own id, or what makes a new one."""
    if not isinstance(item, dict):
        raise InvalidRequest(f"a customer must be a JSON object, not {type(item).__name__}")
    make = _new_customer(item)
    if "customerId" not in item:
        return make
    customer_id = item["customerId"]
    if not isinstance(customer_id, str):
        shown = json.dumps(customer_id)
        raise InvalidRequest(f'customerId must be a string, got {shown} (write it as "{shown}")')
    if not is_customer_id(customer_id):
        raise InvalidRequest(
            f"customerId {customer_id!r} is not a customer id ({CUSTOMER_ID_RULE})"
        )
    return make(customer_id)


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
        return _import(body, customers)
    if not isinstance(body, dict):
        raise InvalidRequest(
            f"the request body must be a customer (a JSON object) or a list of them,"
            f" not {type(body).__name__}"
        )
    return _create(body, customers)


def update_customer(
    request: HttpRequest, customers: CustomerStore, customer_id: str
) -> HttpResponse:
    return _update(_customer_id(customer_id), request.json_object(), customers)


# What the CRM answers, as the lab's CRM does; its OpenAPI document is built from this.
ROUTES = (
    Route("GET", "/", "getCustomers", get_customers),
    Route("GET", "/customer-ids", "getCustomerIds", get_customer_ids),
    Route("GET", "/customer-search", "searchCustomers", search_customers),
    Route("POST", "/customers", "createCustomer", create_customer),
    Route("POST", "/customers/{customerId}", "updateCustomer", update_customer),
)
