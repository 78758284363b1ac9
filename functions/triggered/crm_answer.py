"""crm-answer: answer ``customer`` questions with the customer's record."""

from __future__ import annotations

import logging

from functions.context import FunctionContext
from functions.wire.messages import CUSTOMER_QUESTION, Answer, Outgoing, Question, Stream

log = logging.getLogger(__name__)


def crm_answer(question: Question, context: FunctionContext) -> list[Outgoing]:
    qa_id = question.qa_identifier.text
    if question.category != CUSTOMER_QUESTION:
        log.info("question %s: category %r is not ours; skipped", qa_id, question.category)
        return []

    customer_id = question.customer_identifier
    customer = context.customers.get(customer_id)
    if customer is None:
        log.warning(
            "question %s: customer %s is unknown; answering without a customer", qa_id, customer_id
        )
        answer = Answer(
            question.qa_identifier, None, f"customer {customer_id!r} is not known to the CRM"
        )
    else:
        log.info("question %s: answering with customer %s", qa_id, customer_id)
        answer = Answer(question.qa_identifier, customer)
    return [Outgoing(Stream.ANSWERS, answer)]
