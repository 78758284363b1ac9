"""engine-complete: an answer arrives; write the bill of its pending job and close the job."""

from __future__ import annotations

import logging

from functions.bills import bill_name, render_bill
from functions.context import FunctionContext
from functions.messages import Answer, Outgoing
from functions.storage import JobStatus

log = logging.getLogger(__name__)


def engine_complete(answer: Answer, context: FunctionContext) -> list[Outgoing]:
    qa_id = answer.qa_identifier.text
    job = context.jobs.get(answer.qa_identifier)
    if job is None:
        log.info("answer %s: no job with this id; skipped", qa_id)
        return []
    if job.status is not JobStatus.PENDING:
        log.info("answer %s: job already %s; duplicate answer skipped", qa_id, job.status.value)
        return []

    if answer.customer is None:
        reason = answer.error or "the CRM gave no answer"
        log.warning("answer %s: no customer in the answer (%s); job failed", qa_id, reason)
        context.jobs.save(job.failed(reason))
        return []

    name = bill_name(job.customer_id, job.workflow_id)
    text = render_bill(answer.customer, job.workflow_id, context.clock())
    if context.bills.create(name, text):
        log.info("answer %s: bill %s written", qa_id, name)
    else:
        # A crash between the bill and the job update left the bill behind; keep it.
        log.info("answer %s: bill %s was already written", qa_id, name)
    context.jobs.save(job.completed(name))
    return []
