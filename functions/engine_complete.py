"""engine-complete: an answer arrives; write the bill of its waiting job, or fail the job.

Three S3 requests per bill: read the waiting job, create the bill (never over an
existing one), and end the wait. A crash between any two redoes the rest on
redelivery; an answer that finds no waiting job is a duplicate and changes nothing.
"""

from __future__ import annotations

import logging

from functions.bills import bill_name, render_bill
from functions.context import FunctionContext, iso_millis
from functions.messages import Answer, Outgoing

log = logging.getLogger(__name__)


def engine_complete(answer: Answer, context: FunctionContext) -> list[Outgoing]:
    qa_id = answer.qa_identifier.text
    job = context.jobs.get(answer.qa_identifier)
    if job is None:
        log.info("answer %s: no job waits for it (billed, failed or not ours); skipped", qa_id)
        return []

    now = context.clock()
    if answer.customer is None:
        reason = answer.error or "the CRM gave no answer"
        log.warning("answer %s: no customer in the answer (%s); job failed", qa_id, reason)
        context.jobs.fail(job, reason, iso_millis(now))
        return []

    name = bill_name(job.customer_id, job.workflow_id)
    text = render_bill(answer.customer, job.workflow_id, now)
    if context.bills.create(name, text, job.workflow_id, iso_millis(now)):
        log.info("answer %s: bill %s written", qa_id, name)
    else:
        # A crash or a concurrent copy wrote it first; the first bill stays as it is.
        log.info("answer %s: bill %s was already written", qa_id, name)
    context.jobs.close(job.workflow_id)
    return []
