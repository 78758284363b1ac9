"""Runs one timer-triggered function: every ``RETRY_INTERVAL_S`` it is called with the
time, and what it returns is published in one transaction.

Several copies may run; their work overlaps harmlessly (a question asked twice is
answered twice, and the second answer is skipped).
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from functions.context import FunctionContext
from functions.errors import BillingError
from functions.retry_unanswered import Tick
from runtime.backlog import Backlog
from runtime.config import Settings
from runtime.publisher import KafkaPublisher
from runtime.triggers import Timer

log = logging.getLogger(__name__)


def run_timer(timer: Timer, settings: Settings, context: FunctionContext) -> None:
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("%s: %s received; stopping", timer.function, signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    publisher = KafkaPublisher(settings, role=timer.function)
    backlog = Backlog(settings)
    allowed = set(timer.outputs)
    while not stop.wait(settings.retry_interval_s):
        try:
            outgoing = timer.handler(Tick(context.clock(), backlog.moving()), context)
            stray = [o for o in outgoing if o.stream not in allowed]
            if stray:
                raise BillingError(
                    f"{timer.function} returned messages for {stray[0].stream}, not among its"
                    " declared outputs; fix runtime/triggers.py"
                )
            publisher.publish(outgoing)
        except BillingError as exc:
            # The next tick finds the same work again; nothing is lost by waiting.
            log.error(
                "%s: %s; trying again in %.0fs", timer.function, exc, settings.retry_interval_s
            )
    publisher.close()
    backlog.close()
