"""The CRM's customers as its API changes them: a customer created, changed, or imported
(a list, checked whole before any is written, and finished by sending it again should S3
fail midway), each field checked and bounded before anything is written.

The CLI checks a CSV file with the same rules before it sends anything
(``plan_import``, with the file's line numbers as labels).
"""

from __future__ import annotations

import hashlib
import json
import logging
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from functions.errors import InvalidRequest, NotFound, StorageUnavailable
from functions.storage import CustomerStore
from functions.wire.messages import Customer

log = logging.getLogger(__name__)

EDITABLE = {
    "firstName": "first_name",
    "lastName": "last_name",
    "city": "city",
    "connectionId": "connection_id",
    "connectionMandate": "connection_mandate",
}
MAX_CUSTOMERS_PER_IMPORT = 1000
# Characters a customer's field may have: each is bounded before it is written, and a
# name's words stand in S3 keys (cut to keys.NAME_KEY_WORD_BYTES there).
MAX_FIELD_LENGTH = 200
# The numbers a field takes (exclusive): a whole number between them has at most 199
# digits, so its text, a sign included, at most MAX_FIELD_LENGTH characters.
FIELD_NUMBERS = (-1e198, 1e198)
_FIELD_BOUND = 10**198


def field_text(value: Any) -> str:
    """A customer's field as it is kept: text of 1 to ``MAX_FIELD_LENGTH`` characters as
    sent, with no control character (a bill prints it on a line of its own) and nothing
    UTF-8 cannot encode (a lone surrogate), stripped; a number within ``FIELD_NUMBERS`` is
    taken as its text, as the lab's CRM does. The text is bounded and checked as sent, as
    the OpenAPI document's maxLength and pattern are. A refusal says what is wrong, not
    where: the body's reader names the field (``functions/crm/customer_bodies.py``)."""
    least, most = FIELD_NUMBERS
    if isinstance(value, int | float) and not isinstance(value, bool):
        # Against the bound's exact value, as the document's 1e198 is read: Python compares
        # a float with an int exactly (the float 1e198 is above 10**198).
        if not -_FIELD_BOUND < value < _FIELD_BOUND:  # NaN and the infinities too
            raise InvalidRequest(f"is a number outside {least:g} to {most:g}; send it as a string")
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(f"must be a non-empty string, got {value!r}"[:200])
    if len(value) > MAX_FIELD_LENGTH:
        raise InvalidRequest(
            f"has {len(value)} characters; a customer's field has at most {MAX_FIELD_LENGTH}"
        )
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in value):
        raise InvalidRequest("holds a control character or a lone surrogate; send printable text")
    return value.strip()


def kept_fields(fields: Mapping[str, Any]) -> dict[str, str]:
    """The editable fields of a checked body, by the attribute each is kept as."""
    return {attribute: fields[name] for name, attribute in EDITABLE.items() if name in fields}


def _new_customer(fields: Mapping[str, Any]) -> Callable[[str], Customer]:
    """What makes the customer of ``fields`` (checked: every editable one), given an id."""
    return lambda customer_id: Customer(customer_id=customer_id, **kept_fields(fields))


def create(body: Mapping[str, Any], customers: CustomerStore) -> Customer:
    # As the lab's CRM does, a single create gives the id; a "customerId" sent is ignored.
    [customer] = customers.add_new([_new_customer(body)])
    log.info("customer %s created", customer.customer_id)
    return customer


def import_all(items: list[Any], plan: ImportPlan, customers: CustomerStore) -> Imported:
    """A list of customers, and its ``plan_import``, which found no problem (the body's
    reader refuses a list with one: ``functions/crm/api.py``): those with a ``customerId``
    are stored under it (replacing one there), the others get new ids.

    An import is known by its content: its new customers' ids are fixed by its first try,
    before anything is written, so the same list sent again (after a 503, or twice) writes
    the same customers under the same ids and finishes what a failed try began."""
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
    return Imported([stored[index] for index in range(len(items))], tried_before)


@dataclass(frozen=True)
class Imported:
    """An import's customers, in the list's order; ``replayed``: the same list was sent
    before, and this finished or repeated it."""

    customers: list[Customer]
    replayed: bool


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


def update(customer_id: str, changes: Mapping[str, str], customers: CustomerStore) -> Customer:
    """The customer with ``changes`` (by attribute, as ``kept_fields`` gives them) made."""
    current = customers.get(customer_id)
    if current is None:
        raise NotFound(f"there is no customer {customer_id!r}")
    updated = replace(current, **changes)
    customers.put(updated)
    log.info("customer %s updated", customer_id)
    return updated
