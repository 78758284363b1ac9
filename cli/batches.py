"""The requests an import of a customer file is sent in, sized before the first is sent:
none holds more customers, or more bytes, than the CRM takes in one, so no request of an
import is refused for its size after others were stored."""

from __future__ import annotations

import json
from collections.abc import Sequence

from cli.api import CliError
from functions.crm.customers import MAX_CUSTOMERS_PER_IMPORT
from functions.http.web import MAX_BODY_BYTES

Row = tuple[int, dict[str, str]]  # the line a row ends on, and its values


def import_requests(
    rows: Sequence[Row], most_rows: int = MAX_CUSTOMERS_PER_IMPORT, most_bytes: int = MAX_BODY_BYTES
) -> list[list[Row]]:
    """``rows`` in order, cut into requests of at most ``most_rows`` rows whose JSON body
    has at most ``most_bytes`` bytes. The same rows are always cut the same way, so an
    import sent again sends the same requests (which the CRM then finishes, not repeats)."""
    requests: list[list[Row]] = []
    current: list[Row] = []
    size = 2  # the list's brackets
    for row in rows:
        # As the API client encodes the body (cli/api.py), with a comma and a space.
        row_bytes = len(json.dumps(row[1]).encode()) + 2
        if row_bytes + 2 > most_bytes:
            raise CliError(
                f"line {row[0]} is {row_bytes} bytes as JSON, more than the CRM takes in one"
                f" request ({most_bytes}); nothing was imported"
            )
        if current and (len(current) == most_rows or size + row_bytes > most_bytes):
            requests.append(current)
            current, size = [], 2
        current.append(row)
        size += row_bytes
    if current:
        requests.append(current)
    return requests
