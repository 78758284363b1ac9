"""coordinator: an HTTP function that starts a billing run.

``POST {"customerIdentifiers": ["1", "3"]}`` puts one ``bill-generation`` workflow
message per customer on ``workflow-queue`` and answers ``202`` once Kafka has
acknowledged every one of them.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from functions.context import iso_millis, utc_now
from functions.errors import InvalidRequest
from functions.messages import BILL_GENERATION, Outgoing, Stream, WorkflowId, WorkflowMessage
from functions.web import HttpRequest, HttpResponse

log = logging.getLogger(__name__)

FIELD = "customerIdentifiers"
MAX_CUSTOMERS_PER_RUN = 10_000
USAGE = 'POST a JSON body like {"customerIdentifiers": ["1", "3"]}'

Publish = Callable[[Sequence[Outgoing]], None]


@dataclass(frozen=True)
class BillingRun:
    run_id: str
    workflows: tuple[WorkflowMessage, ...]

    def summary(self) -> dict[str, Any]:
        return {
            "runId": self.run_id,
            "workflows": [
                {
                    "customerIdentifier": workflow.customer_identifier,
                    "workflowId": workflow.workflow_id.wire,
                }
                for workflow in self.workflows
            ],
        }


def parse_customer_identifiers(body: Any) -> list[str]:
    if not isinstance(body, dict):
        raise InvalidRequest(f"the request body must be a JSON object; {USAGE}")
    if FIELD not in body:
        if "customerIdentifers" in body:
            raise InvalidRequest(f'unknown field "customerIdentifers"; did you mean "{FIELD}"?')
        raise InvalidRequest(f'the request body has no "{FIELD}" field; {USAGE}')
    identifiers = body[FIELD]
    if not isinstance(identifiers, list) or not identifiers:
        raise InvalidRequest(f'"{FIELD}" must be a non-empty array of strings; {USAGE}')
    if len(identifiers) > MAX_CUSTOMERS_PER_RUN:
        raise InvalidRequest(
            f'"{FIELD}" names {len(identifiers)} customers; split the run into requests of'
            f" at most {MAX_CUSTOMERS_PER_RUN}",
            status=413,
        )
    customer_ids = []
    for position, identifier in enumerate(identifiers):
        if isinstance(identifier, int) and not isinstance(identifier, bool):
            identifier = str(identifier)
        if not isinstance(identifier, str) or not identifier.strip():
            raise InvalidRequest(
                f'"{FIELD}"[{position}] must be a non-empty string, got {identifier!r}'
            )
        customer_ids.append(identifier.strip())
    return customer_ids


def plan_billing_run(customer_ids: Sequence[str], now: datetime, run_id: str) -> BillingRun:
    """One workflow per customer; ids are ``<run id>-<n>``, unique without any clock."""
    create_time = iso_millis(now)
    workflows = tuple(
        WorkflowMessage(
            workflow_type=BILL_GENERATION,
            workflow_id=WorkflowId(f"{run_id}-{number}"),
            create_time=create_time,
            payload={"customerIdentifier": customer_id},
        )
        for number, customer_id in enumerate(customer_ids, start=1)
    )
    return BillingRun(run_id, workflows)


def new_run_id() -> str:
    """``run-20261127T200347-1f2e3d4c``: sorts by time, and unique without coordination."""
    return f"run-{utc_now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"


def coordinator(
    request: HttpRequest,
    publish: Publish,
    clock: Callable[[], datetime] = utc_now,
    make_run_id: Callable[[], str] = new_run_id,
) -> HttpResponse:
    if request.method != "POST":
        raise InvalidRequest(f"{request.method} is not supported; {USAGE}", status=405)
    customer_ids = parse_customer_identifiers(request.json())
    run = plan_billing_run(customer_ids, clock(), make_run_id())
    publish([Outgoing(Stream.WORKFLOWS, workflow) for workflow in run.workflows])
    log.info("billing run %s: %d workflow(s) acknowledged by Kafka", run.run_id, len(customer_ids))
    return HttpResponse(202, run.summary())
