"""What the tests of issue 29's review share (``test_review_*.py``): a
customer to create, a run's workflows, failures and bills made by hand, a scheduler, and
the CLI's Api over the unit harness."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from functions.context import FunctionContext
from functions.engine_complete import engine_complete
from functions.engine_start import engine_start
from functions.identifiers import WorkflowId
from functions.messages import Answer, WorkflowMessage
from functions.run_starter import Coordination
from functions.schedule import BillingSchedule
from functions.scheduled_billing import ScheduledBilling
from functions.storage import Job, StoredBill
from tests.unit.harness import JOHN, Harness, client, start_run


def ids_of(run: dict[str, Any]) -> dict[str, str]:
    return {w["customerIdentifier"]: w["workflowId"] for w in run["workflows"]}


def fail(context: FunctionContext, workflow_id: str, customer: str) -> None:
    job = Job(WorkflowId(workflow_id), customer, "t", "t")
    context.failures.record(job, "the CRM did not answer", "t")


def published_workflows(harness: Harness) -> list[WorkflowMessage]:
    return [
        o.message for o in harness.publisher.published if isinstance(o.message, WorkflowMessage)
    ]


def bill_every_published(harness: Harness, run_ids: set[str]) -> None:
    """engine-start and engine-complete for every workflow published for ``run_ids``."""
    context = harness.services.context
    for workflow in published_workflows(harness):
        if workflow.workflow_id.run_id in run_ids:
            engine_start(workflow, context)
            engine_complete(Answer(workflow.workflow_id, JOHN), context)


def scheduler(harness: Harness, expression: str) -> ScheduledBilling:
    """A scheduler of ``expression`` (UTC, a day's catch-up) as the runtime builds one."""
    services = harness.services
    return ScheduledBilling(
        BillingSchedule.parse(expression, "UTC", 86400.0),
        Coordination(harness.publisher.publish, services.run_records),
        services.seeded_customers(),
        services.tick_plans,
    )


class HarnessApi:
    """The CLI's Api over the unit harness: the coordinator's test client, the bills' store."""

    def __init__(self, harness: Harness) -> None:
        self.context = harness.services.context

    def bills(self, prefix: str = "") -> Iterator[StoredBill]:
        return self.context.bills.listing(prefix)

    def bill_writer(self, name: str) -> str | None:
        return self.context.bills.writer(name)

    def run_status(self, run_id: str, state: str | None = None) -> dict[str, Any]:
        query = f"?state={state}" if state else ""
        answer: dict[str, Any] = client("coordinator").get(f"/runs/{run_id}{query}").get_json()
        return answer


def billed_by_a_retry(harness: Harness) -> tuple[str, str]:
    """A run whose customer 1 failed, and its retry that billed customer 1: their ids."""
    context = harness.services.context
    run = start_run(["1"])
    fail(context, ids_of(run)["1"], "1")
    retried = client("coordinator").post(f"/runs/{run['runId']}/retry").get_json()
    bill_every_published(harness, {retried["runId"]})
    return run["runId"], retried["runId"]
