"""engine-start: a workflow arrives; save the pending job, ask the CRM about the customer."""

from __future__ import annotations

import logging

from functions.context import FunctionContext, iso_millis
from functions.messages import BILL_GENERATION, Outgoing, Question, Stream, WorkflowMessage
from functions.storage import Asked, Job, JobStatus

log = logging.getLogger(__name__)


def engine_start(workflow: WorkflowMessage, context: FunctionContext) -> list[Outgoing]:
    workflow_id = workflow.workflow_id.text
    if workflow.workflow_type != BILL_GENERATION:
        log.info("workflow %s: type %r is not ours; skipped", workflow_id, workflow.workflow_type)
        return []

    customer_id = workflow.customer_identifier
    now = context.clock()
    pending = Job(
        workflow_id=workflow.workflow_id,
        customer_id=customer_id,
        status=JobStatus.PENDING,
        created_at=iso_millis(now),
    )
    job = context.jobs.create(pending)
    if job.status is not JobStatus.PENDING:
        log.info("workflow %s: already %s; not asked again", workflow_id, job.status.value)
        return []
    if job.customer_id != customer_id:
        log.warning(
            "workflow %s: id reused for customer %s, pending for customer %s; asking for the"
            " pending one",
            workflow_id,
            customer_id,
            job.customer_id,
        )

    # A redelivered workflow whose job is still pending is asked again: the first
    # question may never have reached Kafka. engine-complete ignores the second answer.
    # The waiting question is recorded after the job, so no record ever lacks its job.
    context.jobs.ask(Asked(workflow.workflow_id, attempts=1, asked_at=now))
    log.info(
        "workflow %s: job pending, asking the CRM about customer %s", workflow_id, job.customer_id
    )
    question = Question.about_customer(workflow.workflow_id, job.customer_id)
    return [Outgoing(Stream.QUESTIONS, question)]
