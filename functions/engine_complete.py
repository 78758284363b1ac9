"""engine-complete: an answer arrives; write the bill of its job and close the job.

A bill, once written, decides the job's outcome: a real answer bills a job even after
it failed for want of an answer, and nothing turns a billed job back into a failed one.
"""

from __future__ import annotations

import logging

from functions.bills import bill_name, render_bill
from functions.context import FunctionContext
from functions.errors import StorageUnavailable
from functions.messages import Answer, Outgoing
from functions.storage import Job, JobStatus

log = logging.getLogger(__name__)

_UPDATE_ATTEMPTS = 5


def engine_complete(answer: Answer, context: FunctionContext) -> list[Outgoing]:
    qa_id = answer.qa_identifier.text
    for _ in range(_UPDATE_ATTEMPTS):
        job = context.jobs.get(answer.qa_identifier)
        if job is None:
            log.info("answer %s: no job with this id; skipped", qa_id)
            return []
        if job.status is JobStatus.COMPLETED:
            log.info("answer %s: job already billed; duplicate answer skipped", qa_id)
            context.jobs.answered(job.workflow_id)
            return []
        if _close(job, answer, context):
            context.jobs.answered(job.workflow_id)
            return []
        log.info("answer %s: job changed while it was closed; reading it again", qa_id)
    raise StorageUnavailable(
        f"answer {qa_id}: job kept changing under {_UPDATE_ATTEMPTS} attempts to close it"
    )


def _close(job: Job, answer: Answer, context: FunctionContext) -> bool:
    """Bill or fail ``job``; False if it changed since it was read."""
    qa_id = answer.qa_identifier.text
    if answer.customer is None:
        if job.status is JobStatus.FAILED:
            log.info("answer %s: job already failed; answer without a customer skipped", qa_id)
            return True
        reason = answer.error or "the CRM gave no answer"
        log.warning("answer %s: no customer in the answer (%s); job failed", qa_id, reason)
        return context.jobs.update(job.failed(reason))

    name = bill_name(job.customer_id, job.workflow_id)
    text = render_bill(answer.customer, job.workflow_id, context.clock())
    if context.bills.create(name, text):
        log.info("answer %s: bill %s written", qa_id, name)
    else:
        # A crash or a concurrent copy wrote it first; the first bill stays as it is.
        log.info("answer %s: bill %s was already written", qa_id, name)
    return context.jobs.update(job.completed(name))
