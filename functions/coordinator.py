"""coordinator: an HTTP function that starts a billing run.

``POST {"customerIdentifiers": ["1", "3"]}`` puts one ``bill-generation`` workflow
message per customer on ``workflow-queue`` and answers ``202`` once Kafka has
acknowledged every one of them; if it cannot, it answers 503 and none is delivered.

With an ``Idempotency-Key`` header, a repeated request returns the run the first one
started (publishing it again if the first never finished) instead of starting another.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from functions.context import iso_millis, utc_now
from functions.errors import InvalidRequest
from functions.messages import (
    BILL_GENERATION,
    CUSTOMER_ID_RULE,
    Outgoing,
    Stream,
    WorkflowId,
    WorkflowMessage,
    is_customer_id,
)
from functions.storage import IdempotencyRecord, Run, RunStore
from functions.web import HttpRequest, HttpResponse

log = logging.getLogger(__name__)

FIELD = "customerIdentifiers"
MAX_CUSTOMERS_PER_RUN = 10_000
USAGE = 'POST a JSON body like {"customerIdentifiers": ["1", "3"]}'
IDEMPOTENCY_HEADER = "idempotency-key"
MAX_IDEMPOTENCY_KEY = 255

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
    customer_ids: list[str] = []
    seen: dict[str, int] = {}
    for position, identifier in enumerate(identifiers):
        if not isinstance(identifier, str):
            hint = f' (write it as "{identifier}")' if isinstance(identifier, int) else ""
            raise InvalidRequest(
                f'"{FIELD}"[{position}] must be a string, got {json.dumps(identifier)}{hint}'
            )
        if not is_customer_id(identifier):
            raise InvalidRequest(
                f'"{FIELD}"[{position}] is {identifier!r}, which is not a customer id'
                f" ({CUSTOMER_ID_RULE})"
            )
        if identifier in seen:
            raise InvalidRequest(
                f'"{FIELD}"[{position}] repeats customer {identifier!r} of position'
                f" {seen[identifier]}; list each customer once"
            )
        seen[identifier] = position
        customer_ids.append(identifier)
    return customer_ids


def plan_billing_run(customer_ids: Sequence[str], create_time: str, run_id: str) -> BillingRun:
    """One workflow per customer; ids are ``<run id>-<n>``, unique without any clock."""
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
    runs: RunStore,
    clock: Callable[[], datetime] = utc_now,
    make_run_id: Callable[[], str] = new_run_id,
) -> HttpResponse:
    if request.method != "POST":
        raise InvalidRequest(f"{request.method} is not supported; {USAGE}", status=405)
    customer_ids = parse_customer_identifiers(request.json())
    idempotency_key = request.headers.get(IDEMPOTENCY_HEADER)
    if idempotency_key is None:
        run = Run(make_run_id(), iso_millis(clock()), tuple(customer_ids))
        runs.save(run)
        return _publish(run, publish, runs)

    _check_idempotency_key(idempotency_key)
    digest = hashlib.sha256(json.dumps(customer_ids).encode()).hexdigest()
    claimed = runs.claim(idempotency_key, IdempotencyRecord(make_run_id(), digest))
    if claimed.request_digest != digest:
        raise InvalidRequest(
            f"Idempotency-Key {idempotency_key!r} started run {claimed.run_id} for other"
            " customers; use a new key for a new run",
            status=422,
        )
    stored = runs.get(claimed.run_id)
    if stored is not None and stored.published:
        log.info("billing run %s: repeated request, answered with the first", stored.run_id)
        return _accepted(_plan(stored), replayed=True)
    if stored is None:
        stored = Run(claimed.run_id, iso_millis(clock()), tuple(customer_ids))
        runs.save(stored)
    return _publish(stored, publish, runs)


def _check_idempotency_key(key: str) -> None:
    if not 0 < len(key) <= MAX_IDEMPOTENCY_KEY or not key.isprintable() or not key.isascii():
        raise InvalidRequest(
            f"the Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} printable ASCII"
            " characters, such as a UUID"
        )


def _publish(run: Run, publish: Publish, runs: RunStore) -> HttpResponse:
    planned = _plan(run)
    publish([Outgoing(Stream.WORKFLOWS, workflow) for workflow in planned.workflows])
    runs.save(replace(run, published=True))
    count = len(planned.workflows)
    log.info("billing run %s: %d workflow(s) acknowledged by Kafka", run.run_id, count)
    return _accepted(planned, replayed=False)


def _plan(run: Run) -> BillingRun:
    return plan_billing_run(run.customer_ids, run.create_time, run.run_id)


def _accepted(planned: BillingRun, replayed: bool) -> HttpResponse:
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    return HttpResponse(202, planned.summary(), headers)
