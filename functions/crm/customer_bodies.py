"""The CRM's request bodies, one type each that the OpenAPI document shows and pydantic
checks (``functions/http/bodies.py``): a customer to create, a list of them to import, the fields
of one to change. A field's rule is ``field_text``: the CLI checks a CSV file's rows by the
same type (``functions/crm/customers.py``: ``plan_import``).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Annotated, Any, NotRequired

from pydantic import Field, TypeAdapter
from typing_extensions import TypedDict

from functions.crm.customers import (
    FIELD_NUMBERS,
    MAX_CUSTOMERS_PER_IMPORT,
    MAX_FIELD_LENGTH,
    ImportPlan,
    field_text,
    kept_fields,
)
from functions.errors import Location
from functions.http.bodies import Checked, checked, field_names, repeats
from functions.http.parameters import FIELD_TEXT
from functions.http.web import closed
from functions.wire.identifiers import CustomerIdText
from functions.wire.messages import Customer

# The lab sends every field as a string; numbers are taken too, and kept as text.
FieldValue = Annotated[
    str,
    Checked(
        field_text,
        {
            "oneOf": [
                {"type": "string", "pattern": FIELD_TEXT, "maxLength": MAX_FIELD_LENGTH},
                {
                    "type": "number",
                    "exclusiveMinimum": FIELD_NUMBERS[0],
                    "exclusiveMaximum": FIELD_NUMBERS[1],
                },
            ],
            "examples": ["Ada"],
        },
    ),
]


class _CustomerFields(TypedDict):
    firstName: FieldValue
    lastName: FieldValue
    city: FieldValue
    connectionId: FieldValue
    connectionMandate: FieldValue


@closed
class NewCustomer(_CustomerFields):
    """A customer to create: every field but its id."""

    customerId: NotRequired[Any]
    """ignored: a new customer gets a new id"""


@closed
class ImportedCustomer(_CustomerFields):
    """A customer of an import: stored under its customerId if it has one (replacing the
    customer there), under a new id if not."""

    customerId: NotRequired[CustomerIdText]


CustomerList = Annotated[
    list[ImportedCustomer], Field(min_length=1, max_length=MAX_CUSTOMERS_PER_IMPORT)
]


@closed
class CustomerChanges(TypedDict, total=False):
    """The fields to change; the others stay."""

    firstName: FieldValue
    lastName: FieldValue
    city: FieldValue
    connectionId: FieldValue
    connectionMandate: FieldValue
    customerId: Any
    """ignored"""


NEW_CUSTOMER: TypeAdapter[NewCustomer] = TypeAdapter(NewCustomer)
IMPORTED_CUSTOMER: TypeAdapter[ImportedCustomer] = TypeAdapter(ImportedCustomer)
_FIELDS = field_names(ImportedCustomer)


def repeated_ids(body: Any) -> list[tuple[Location, str]]:
    """Each customerId an import names again, where it does (in the body as sent)."""
    if not isinstance(body, list):
        return []
    ids = [item.get("customerId") if isinstance(item, dict) else None for item in body]
    return repeats(
        ids,
        lambda index, customer_id, first: (
            (index, "customerId"),
            f"[{index}] customerId {customer_id[:80]!r} is also at [{first}]",
        ),
    )


def _customer(fields: dict[str, str], customer_id: str) -> Customer:
    return Customer(customer_id=customer_id, **fields)


def plan_import(items: Sequence[Any], labels: Sequence[str]) -> ImportPlan:
    """Check every item of an import as an ``ImportedCustomer`` (``labels`` name them in
    problems: ``[3]``, or a CSV file's ``customers.csv:4``), writing nothing."""
    plan = ImportPlan()
    first_at: dict[str, str] = {}
    for index, (item, label) in enumerate(zip(items, labels, strict=True)):
        valid, problems = checked(IMPORTED_CUSTOMER, item, _FIELDS, whole="a customer")
        if problems:
            plan.invalid.extend((index, f"{label}: {detail}") for _, detail in problems)
            continue
        fields = kept_fields(valid)
        customer_id = valid.get("customerId")
        if customer_id is None:
            plan.new[index] = partial(_customer, fields)
            continue
        plan.given[index] = Customer(customer_id=customer_id, **fields)
        first = first_at.setdefault(customer_id, label)
        if first != label:
            plan.repeated.append((index, f"{label}: customerId {customer_id!r} is also at {first}"))
    return plan
