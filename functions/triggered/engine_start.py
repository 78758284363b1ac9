"""engine-start: a workflow arrives; keep the job as waiting, ask the CRM about the customer."""

from __future__ import annotations

import logging

from functions.context import FunctionContext, iso_millis
from functions.storage import Job
from functions.triggered.cancelled_jobs import end_as_cancelled
from functions.wire.messages import BILL_GENERATION, Outgoing, Question, Stream, WorkflowMessage

log = logging.getLogger(__name__)


def engine_start(workflow: WorkflowMessage, context: FunctionContext) -> list[Outgoing]:
    workflow_id = workflow.workflow_id.text
    if workflow.workflow_type != BILL_GENERATION:
        log.info("workflow %s: type %r is not ours; skipped", workflow_id, workflow.workflow_type)
        return []

    customer_id = workflow.customer_identifier
    now = iso_millis(context.clock())
    job = Job(
        workflow.workflow_id,
        customer_id,
        now,
        now,
        trace=context.trace(),
        lineage=workflow.lineage,
        period=workflow.billing_period,
    )
    run_id = workflow.workflow_id.run_id
    if run_id is not None and context.cancellations.is_cancelled(run_id):
        log.info("workflow %s: its run %s was cancelled; not asked", workflow_id, run_id)
        end_as_cancelled(job, context, now)
        return []
    context.new_jobs.create(job)

    # A redelivered workflow is asked again: the first question may never have reached
    # Kafka. Answers after the first find no waiting job, and a bill is never rewritten.
    # The job is written with the rest of its batch, before this question leaves.
    log.info("workflow %s: asking the CRM about customer %s", workflow_id, customer_id)
    question = Question.about_customer(workflow.workflow_id, customer_id)
    return [Outgoing(Stream.QUESTIONS, question)]
