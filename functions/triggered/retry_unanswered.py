"""retry-unanswered: on a timer, ask again the questions whose answer is overdue.

The n-th question of a job waits ``timeout * backoff ** (n - 1)`` for its answer. When
the last allowed question goes unanswered too, the job fails with the reason.

Time spent in line is not a lost answer: while the CRM or engine-complete is working
through a backlog, nothing is overdue, and the sweep waits for the line to clear.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from functions.context import FunctionContext, iso_millis
from functions.log_context import about_workflow
from functions.storage import Job
from functions.triggered.cancelled_jobs import end_as_cancelled
from functions.wire.messages import Outgoing, Question, Stream

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Tick:
    """What a timer trigger hands its function: the time it fired, and whether the
    functions after a question (the CRM, engine-complete) still work through a backlog."""

    now: datetime
    backlog: bool = False


def retry_unanswered(tick: Tick, context: FunctionContext) -> list[Outgoing]:
    if tick.backlog:
        log.debug("questions or answers still in line; none is overdue yet")
        return []
    policy = context.answers
    # No question is overdue sooner than the first timeout, so newer ones are not read.
    overdue = [
        job
        for job in context.sweep.waiting(tick.now - policy.wait_after(1))
        if policy.due(job, tick.now)
    ]
    questions = []
    for job in overdue:
        with about_workflow(job.workflow_id):
            question = _retry(job, tick.now, context)
        if question is not None:
            questions.append(question)
    if overdue:
        log.info("%d overdue question(s), %d asked again", len(overdue), len(questions))
    return questions


def _retry(job: Job, now: datetime, context: FunctionContext) -> Outgoing | None:
    workflow_id = job.workflow_id.text
    policy = context.answers
    run_id = job.workflow_id.run_id
    if run_id is not None and context.cancellations.is_cancelled(run_id):
        log.info("workflow %s: its run %s was cancelled; not asked again", workflow_id, run_id)
        end_as_cancelled(job, context, iso_millis(now))
        return None
    if job.attempts >= policy.max_attempts:
        waited = (now - datetime.fromisoformat(job.created_at)).total_seconds()
        reason = (
            f"no answer from the CRM to {job.attempts} question(s) about customer"
            f" {job.customer_id} over {waited:.0f}s"
        )
        log.warning("workflow %s: %s; job failed", workflow_id, reason)
        context.failures.record(job, reason, iso_millis(now))
        return None
    again = job.asked_again(iso_millis(now))
    if not context.sweep.ask_again(again):
        return None  # answered since it was read
    log.info(
        "workflow %s: no answer after %.0fs; asking again (question %d of %d)",
        workflow_id,
        policy.wait_after(job.attempts).total_seconds(),
        again.attempts,
        policy.max_attempts,
    )
    question = Question.about_customer(job.workflow_id, job.customer_id)
    return Outgoing(Stream.QUESTIONS, question, trace=job.trace)
