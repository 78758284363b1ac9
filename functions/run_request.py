"""The body of ``POST /``, a run request: the customers to bill, and the billing period they
are billed for, typed and checked (the document shows ``RunRequest``; ``read_run_request``
reads it, refusing with a 4xx in our words)."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Annotated, Any, NotRequired

from pydantic import Field, TypeAdapter, ValidationError
from typing_extensions import TypedDict

from functions.billing_period import PERIOD_FORMS, PERIOD_RULE, BillingPeriod
from functions.errors import InvalidRequest, Location
from functions.identifiers import (
    CUSTOMER_ID_RULE,
    BillingPeriodText,
    CustomerIdText,
    is_customer_id,
)
from functions.runs import MAX_RUN_SIZE
from functions.web import closed

FIELD = "customerIdentifiers"
PERIOD_FIELD = "billingPeriod"
USAGE = 'POST a JSON body like {"customerIdentifiers": ["1", "3"], "billingPeriod": "2026-12"}'


# Closed: a field it does not know is refused, so a misspelled billingPeriod bills nothing.
@closed
class RunRequest(TypedDict):
    customerIdentifiers: Annotated[
        list[CustomerIdText],
        Field(
            min_length=1,
            max_length=MAX_RUN_SIZE,
            json_schema_extra={"uniqueItems": True},
            examples=[["1", "3"]],
        ),
    ]
    billingPeriod: NotRequired[
        Annotated[
            BillingPeriodText,
            Field(
                max_length=10,
                description=f"the period the run bills, {PERIOD_RULE}: a customer billed in it"
                " already is skipped, and each gets at most one bill of it,"
                " `<period>/customer-bill-<customer id>.txt`; without it, the run's bills are"
                " its own",
                examples=["2026-12"],
            ),
        ]
    ]


@dataclass(frozen=True)
class RunOrder:
    """What a run request asks for: its customers, and the period they are billed for."""

    customer_ids: list[str]
    billing_period: BillingPeriod | None = None


_RUN_REQUEST = TypeAdapter(RunRequest)


def read_run_request(body: Any) -> RunOrder:
    """The customers and period a run request names: checked by pydantic, and any refusal
    worded by ``parse_run_request``."""
    try:
        request = _RUN_REQUEST.validate_python(body)
    except ValidationError:
        return parse_run_request(body)
    customer_ids: list[str] = request["customerIdentifiers"]
    if len(set(customer_ids)) < len(customer_ids):
        return parse_run_request(body)  # refuses the repeat
    period = request.get("billingPeriod")
    return RunOrder(customer_ids, None if period is None else BillingPeriod(period))


def parse_run_request(body: Any) -> RunOrder:
    """A run request; what pydantic refused, said in our words: every problem, each located
    by its field (and position)."""
    if not isinstance(body, dict):
        raise InvalidRequest(f"the request body must be a JSON object; {USAGE}")
    problems: list[tuple[Location, str]] = []
    customer_ids = _customer_identifiers(body, problems)
    for unknown in sorted(set(body) - {FIELD, PERIOD_FIELD}):
        close = difflib.get_close_matches(unknown, [FIELD, PERIOD_FIELD], n=1)
        hint = f'did you mean "{close[0]}"? ' if close else ""
        problems.append(
            (
                (unknown,),
                f"unknown field {json.dumps(unknown)[:80]}; {hint}a run request has"
                f' "{FIELD}" and, if it bills a period, "{PERIOD_FIELD}"',
            )
        )
    period = body.get(PERIOD_FIELD)
    if PERIOD_FIELD in body and (not isinstance(period, str) or not BillingPeriod.is_one(period)):
        problems.append(
            (
                (PERIOD_FIELD,),
                f'"{PERIOD_FIELD}" is {json.dumps(period)[:60]}, which is not a billing period;'
                f" {PERIOD_FORMS}",
            )
        )
    if problems:
        raise InvalidRequest.of(problems)
    return RunOrder(customer_ids, None if period is None else BillingPeriod(period))


def _customer_identifiers(body: dict[str, Any], problems: list[tuple[Location, str]]) -> list[str]:
    """The customers of a run request, each problem of them added to ``problems``."""
    if FIELD not in body:
        if "customerIdentifers" not in body:  # else told as an unknown field: did you mean
            problems.append(((FIELD,), f'the request body has no "{FIELD}" field; {USAGE}'))
        return []
    identifiers = body[FIELD]
    if not isinstance(identifiers, list) or not identifiers:
        problems.append(((FIELD,), f'"{FIELD}" must be a non-empty array of strings; {USAGE}'))
        return []
    if len(identifiers) > MAX_RUN_SIZE:
        raise InvalidRequest(
            f'"{FIELD}" names {len(identifiers)} customers; split the run into requests of'
            f" at most {MAX_RUN_SIZE}",
            status=413,
        )
    customer_ids: list[str] = []
    seen: dict[str, int] = {}
    for position, identifier in enumerate(identifiers):
        where: Location = (FIELD, position)
        if not isinstance(identifier, str):
            hint = f' (write it as "{identifier}")' if isinstance(identifier, int) else ""
            problems.append(
                (
                    where,
                    f'"{FIELD}"[{position}] must be a string, got {json.dumps(identifier)}{hint}',
                )
            )
        elif not is_customer_id(identifier):
            problems.append(
                (
                    where,
                    f'"{FIELD}"[{position}] is {identifier!r}, which is not a customer id'
                    f" ({CUSTOMER_ID_RULE})",
                )
            )
        elif identifier in seen:
            problems.append(
                (
                    where,
                    f'"{FIELD}"[{position}] repeats customer {identifier!r} of position'
                    f" {seen[identifier]}; list each customer once",
                )
            )
        else:
            seen[identifier] = position
            customer_ids.append(identifier)
    return customer_ids
