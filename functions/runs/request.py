"""The body of ``POST /``, a run request: the customers to bill, and the billing period they
are billed for. ``RunRequest`` is the one type the document shows and the request is checked
by (``RUN_REQUEST``, ``functions/http/bodies.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, NotRequired

from pydantic import Field
from typing_extensions import TypedDict

from functions.errors import Location
from functions.http.bodies import Body, repeats
from functions.http.web import closed
from functions.runs.status import MAX_RUN_SIZE
from functions.wire.billing_period import PERIOD_RULE, BillingPeriod
from functions.wire.identifiers import BillingPeriodText, CustomerIdText

FIELD = "customerIdentifiers"
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


def _repeat(position: int, customer_id: str, first: int) -> tuple[Location, str]:
    return (FIELD, position), (
        f'"{FIELD}"[{position}] repeats customer {customer_id[:80]!r} of position {first};'
        " list each customer once"
    )


def _repeats(body: Any) -> list[tuple[Location, str]]:
    """Each customer a run request names again, where it does (in the body as sent)."""
    identifiers = body.get(FIELD) if isinstance(body, dict) else None
    return repeats(identifiers, _repeat) if isinstance(identifiers, list) else []


def _run_order(request: RunRequest) -> RunOrder:
    period = request.get("billingPeriod")
    return RunOrder(
        request["customerIdentifiers"], None if period is None else BillingPeriod(period)
    )


RUN_REQUEST = Body(RunRequest, _run_order, USAGE, conflicts=_repeats)
"""How a run request is read: its shape checked by its type, every problem told."""
