"""retry-unanswered: on a timer, ask again the questions whose answer is overdue.

The n-th question of a job waits ``timeout * backoff ** (n - 1)`` for its answer. When
the last allowed question goes unanswered too, the job fails with the reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from functions.context import FunctionContext
from functions.messages import Outgoing, Question, Stream
from functions.storage import Asked, JobStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Tick:
    """What a timer trigger hands its function: the time it fired."""

    now: datetime


def retry_unanswered(tick: Tick, context: FunctionContext) -> list[Outgoing]:
    policy = context.answers
    # No question is overdue sooner than the first timeout, so newer ones are not read.
    overdue = [
        asked
        for asked in context.jobs.unanswered(tick.now - policy.wait_after(1))
        if policy.due(asked, tick.now)
    ]
    questions: list[Outgoing] = []
    for asked in overdue:
        question = _retry(asked, tick.now, context)
        if question is not None:
            questions.append(question)
    if overdue:
        log.info("%d overdue question(s), %d asked again", len(overdue), len(questions))
    return questions


def _retry(asked: Asked, now: datetime, context: FunctionContext) -> Outgoing | None:
    workflow_id = asked.workflow_id.text
    job = context.jobs.get(asked.workflow_id)
    if job is None or job.status is not JobStatus.PENDING:
        # Closed between its answer and this sweep; the record is all that is left.
        context.jobs.answered(asked.workflow_id)
        return None
    policy = context.answers
    if asked.attempts >= policy.max_attempts:
        waited = (now - datetime.fromisoformat(job.created_at)).total_seconds()
        reason = (
            f"no answer from the CRM to {asked.attempts} question(s) about customer"
            f" {job.customer_id} over {waited:.0f}s"
        )
        if context.jobs.update(job.failed(reason)):
            log.warning("workflow %s: %s; job failed", workflow_id, reason)
            context.jobs.answered(asked.workflow_id)
        return None
    attempt = asked.attempts + 1
    log.info(
        "workflow %s: no answer after %.0fs; asking again (question %d of %d)",
        workflow_id,
        policy.wait_after(asked.attempts).total_seconds(),
        attempt,
        policy.max_attempts,
    )
    context.jobs.ask(Asked(asked.workflow_id, attempt, now))
    return Outgoing(Stream.QUESTIONS, Question.about_customer(asked.workflow_id, job.customer_id))
