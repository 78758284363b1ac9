"""Runs one timer-triggered function: every ``RETRY_INTERVAL_S`` it is called with the
time, and what it returns is published in one transaction.

Several copies may run; their work overlaps harmlessly (a question asked twice is
answered twice, and the second answer is skipped).
"""

from __future__ import annotations

import logging
import threading

from functions.context import FunctionContext
from functions.errors import BillingError
from functions.retry_unanswered import Tick
from runtime import tracing
from runtime.config import FunctionSettings
from runtime.services import Publisher
from runtime.triggers import Timer

log = logging.getLogger(__name__)


def tick(timer: Timer, context: FunctionContext, backlog_moving: bool, publisher: Publisher) -> int:
    """Call ``timer`` once and publish what it returns; how many messages that was.
    ``backlog_moving``: whether questions or answers are still in line (``Backlog``)."""
    with tracing.span(f"{timer.function} tick"):
        outgoing = timer.handler(Tick(context.clock(), backlog_moving), context)
        timer.check_outputs(outgoing)
        publisher.publish(outgoing)
    return len(outgoing)


def run_timer(
    timer: Timer, settings: FunctionSettings, context: FunctionContext, stop: threading.Event
) -> None:
    """Tick until ``stop`` is set (``runtime.stopping.stop_event``)."""
    from runtime.kafka.backlog import Backlog
    from runtime.kafka.publisher import KafkaPublisher

    publisher = KafkaPublisher(settings, role=timer.function)
    backlog = Backlog(settings)
    while not stop.wait(settings.retry_interval_s):
        try:
            tick(timer, context, backlog.moving(), publisher)
        except BillingError as exc:
            # The next tick finds the same work again; nothing is lost by waiting.
            log.error(
                "%s: %s; trying again in %.0fs", timer.function, exc, settings.retry_interval_s
            )
    publisher.close()
    backlog.close()
