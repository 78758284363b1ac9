"""engine-complete: an answer arrives; write the bill of its waiting job, or fail the job.

One S3 request per bill: create the bill, never over an existing one. The waiting job is
found among the batches of its run already read (a batch's worth of answers costs one
listing and a read of each new batch). A crash before the bill redoes it on redelivery;
an answer that finds no waiting job is a duplicate or not ours, and changes nothing.
"""

from __future__ import annotations

import logging

from functions.context import FunctionContext, iso_millis
from functions.triggered.bills import render_bill
from functions.triggered.cancelled_jobs import end_as_cancelled
from functions.wire.messages import Answer, Outgoing

log = logging.getLogger(__name__)


def engine_complete(answer: Answer, context: FunctionContext) -> list[Outgoing]:
    qa_id = answer.qa_identifier.text
    customer_id = answer.customer.customer_id if answer.customer else None
    job = context.answer_jobs.find(answer.qa_identifier, customer_id)
    if job is None:
        log.info("answer %s: no job waits for it (billed, failed or not ours); skipped", qa_id)
        return []

    now = context.clock()
    if context.answers.may_have_failed(job, now) and context.failures.get(job.workflow_id):
        log.info("answer %s: its job failed before the answer came; skipped", qa_id)
        context.answer_jobs.close(job.workflow_id)
        return []
    run_id = job.workflow_id.run_id
    if run_id is not None and context.cancellations.is_cancelled(run_id):
        log.info("answer %s: its run %s was cancelled; no bill", qa_id, run_id)
        end_as_cancelled(job, context, iso_millis(now))
        context.answer_jobs.close(job.workflow_id)
        return []
    if answer.customer is None:
        reason = answer.error or "the CRM gave no answer"
        log.warning("answer %s: no customer in the answer (%s); job failed", qa_id, reason)
        context.failures.record(job, reason, iso_millis(now))
        context.answer_jobs.close(job.workflow_id)
        return []

    name = job.bill_name
    text = render_bill(answer.customer, job.workflow_id, now)
    if context.bills.create(name, text, job.workflow_id, iso_millis(now)):
        log.info("answer %s: bill %s written", qa_id, name)
    else:
        # A crash, a concurrent copy or another run of its lineage wrote it first; the
        # first bill stays as it is, and it is the customer's one bill of the lineage.
        log.info("answer %s: bill %s was already written", qa_id, name)
    context.answer_jobs.close(job.workflow_id)
    return []
