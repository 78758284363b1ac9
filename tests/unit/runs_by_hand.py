"""A run's life made by hand in the unit tier, as the Kafka functions and the timers would
make it: a run's workflows by customer, a workflow failed, the workflows the coordinator
published and their bills, a scheduler as the runtime builds one, and a customer billed by
a retry."""

from __future__ import annotations

from typing import Any

from functions.context import FunctionContext
from functions.runs.schedule import BillingSchedule
from functions.runs.scheduled_billing import ScheduledBilling
from functions.runs.starter import Coordination
from functions.storage import Job
from functions.triggered.engine_complete import engine_complete
from functions.triggered.engine_start import engine_start
from functions.wire.identifiers import WorkflowId
from functions.wire.messages import Answer, WorkflowMessage
from tests.unit.harness import JOHN, Harness, client, start_run

DAY = 86400.0


def ids_of(run: dict[str, Any]) -> dict[str, str]:
    """A run's workflow ids by customer, from the coordinator's answer."""
    return {w["customerIdentifier"]: w["workflowId"] for w in run["workflows"]}


def fail(
    context: FunctionContext, workflow_id: str, customer: str, period: str | None = None
) -> None:
    """The failure a workflow's job ends in when the CRM never answers (of ``period``'s
    run, if it bills one)."""
    job = Job(WorkflowId(workflow_id), customer, "t", "t", period=period)
    context.failures.record(job, "the CRM did not answer", "t")


def published_workflows(harness: Harness, since: int = 0) -> list[WorkflowMessage]:
    """The workflows published, from the ``since``-th message published on."""
    published = harness.publisher.published[since:]
    return [o.message for o in published if isinstance(o.message, WorkflowMessage)]


def bill_every_published(harness: Harness, run_ids: set[str]) -> None:
    """engine-start and engine-complete for every workflow published for ``run_ids``."""
    context = harness.services.context
    for workflow in published_workflows(harness):
        if workflow.workflow_id.run_id in run_ids:
            engine_start(workflow, context)
            engine_complete(Answer(workflow.workflow_id, JOHN), context)


def scheduler(
    harness: Harness, expression: str, zone: str = "UTC", catch_up_s: float = DAY
) -> ScheduledBilling:
    """A scheduler of ``expression`` as the runtime builds one: a process of its own on the
    same buckets."""
    services = harness.services
    return ScheduledBilling(
        BillingSchedule.parse(expression, zone, catch_up_s),
        Coordination(harness.publisher.publish, services.run_records),
        services.seeded_customers(),
        services.tick_plans,
    )


def billed_by_a_retry(harness: Harness) -> tuple[str, str]:
    """A run whose customer 1 failed, and its retry that billed customer 1: their ids."""
    context = harness.services.context
    run = start_run(["1"])
    fail(context, ids_of(run)["1"], "1")
    retried = client("coordinator").post(f"/runs/{run['runId']}/retry").get_json()
    bill_every_published(harness, {retried["runId"]})
    return run["runId"], retried["runId"]
