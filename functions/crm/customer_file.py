"""The lab's customer file: its CSV format (a header line, then
``customerId,firstName,lastName,city,connectionId,connectionMandate``) and the seed
customers the CRM is packaged with (``functions/crm/data/customer-database.csv``).

Read by whoever needs customers from a file: the runtime seeds the CRM's store from it
(``runtime/services.py``), and `billing customers import` reads a user's file with it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from importlib import resources

from functions.errors import InvalidRequest
from functions.wire.messages import Customer

_EXTRA_COLUMNS = "\0extra"


def customer_rows(text: str) -> Iterator[tuple[int, dict[str, str]]]:
    """The rows of a customer file in the lab's CSV format (a header line, then
    ``customerId,firstName,lastName,city,connectionId,connectionMandate``), each with the
    line it ends on; an empty ``customerId`` is left out, and blank lines are skipped. A
    file the csv module cannot read (a field over its 131,072 characters, say), or whose
    header names a column twice, is an InvalidRequest naming the line."""
    reader = csv.DictReader(io.StringIO(text), restkey=_EXTRA_COLUMNS)
    try:
        _columns_once(reader)
        yield from _rows(reader)
    except csv.Error as exc:
        # line_num counts the lines read whole; the error is in the one being read.
        raise InvalidRequest(f"line {reader.line_num + 1}: {exc}") from None


def _columns_once(reader: csv.DictReader[str]) -> None:
    """csv.DictReader keeps the last of two columns of one name: the first one's values
    would be lost without a word, so such a header is refused."""
    seen: set[str] = set()
    for name in (column.strip() for column in reader.fieldnames or ()):
        if name in seen:
            named = f"the column {name}" if name else "a column without a name"
            raise InvalidRequest(f"line {reader.line_num} names {named} twice")
        seen.add(name)


def _rows(reader: csv.DictReader[str]) -> Iterator[tuple[int, dict[str, str]]]:
    for row in reader:
        extra = row.pop(_EXTRA_COLUMNS, [])
        values = {(key or "").strip(): (value or "").strip() for key, value in row.items()}
        width = len(reader.fieldnames or ())
        values |= {f"column {width + n}": value for n, value in enumerate(extra, 1)}
        if not any(values.values()):
            continue
        if not values.get("customerId"):
            values.pop("customerId", None)
        yield reader.line_num, values


def seed_customers() -> list[Customer]:
    """The lab's customer file; a row without an id gets the highest id plus one."""
    text = (
        resources.files("functions.crm").joinpath("data/customer-database.csv").read_text("utf-8")
    )
    customers: list[Customer] = []
    for _, values in customer_rows(text):
        if "customerId" not in values:
            values["customerId"] = str(
                _next_id(int(c.customer_id) for c in customers if c.customer_id.isdigit())
            )
        customers.append(Customer.from_wire(values))
    return customers


def _next_id(numeric_ids: Iterable[int]) -> int:
    return max(numeric_ids, default=0) + 1
