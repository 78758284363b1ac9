"""Runs one timer-triggered function: what a tick of it does, and the loop that ticks it.

A ``Timer`` (the table is ``runtime/triggers.py``'s ``TIMERS``) names how often it ticks
and what a tick does, built once a process from its services (``TickServices``):
``publishing`` for a handler that returns messages (``retry-unanswered``),
``scheduled_billing`` for the billing schedule.
The runtime ticks it at start and then every interval (``run_timer``); on Lambda,
EventBridge invokes one tick (``runtime/aws_lambda/schedule.py``).

Several copies may run; their work overlaps harmlessly (a question asked twice is
answered twice and the second answer skipped; a schedule's tick names its runs, so it
starts them once).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from functions.context import FunctionContext
from functions.errors import BillingError
from functions.runs.scheduled_billing import ScheduledBilling, bill_on_schedule
from functions.triggered.retry_unanswered import Tick
from functions.wire.messages import Outgoing, Stream
from runtime import tracing
from runtime.config import FunctionSettings
from runtime.ports import Backlog, Publisher, check_outputs

log = logging.getLogger(__name__)


class TickServices(Protocol):
    """What a tick is built from: ``runtime.services.Services``, or a test's."""

    @property
    def settings(self) -> FunctionSettings: ...
    @property
    def context(self) -> FunctionContext: ...
    @property
    def publisher(self) -> Publisher: ...
    @property
    def backlog(self) -> Backlog: ...
    @property
    def scheduled_billing(self) -> ScheduledBilling: ...
    def close(self) -> None: ...


# One tick: what it did, as the Lambda invocation answers it.
TickAction = Callable[[], dict[str, Any]]
TickBuilder = Callable[["Timer", TickServices], TickAction]


def _always(_settings: FunctionSettings) -> bool:
    return True


@dataclass(frozen=True)
class Timer:
    """A function ticked ``every`` so many seconds; what a tick does is built once a
    process (``ticks``). ``when`` says it in `runtime list`."""

    function: str
    outputs: tuple[Stream, ...]
    every: Callable[[FunctionSettings], float]
    ticks: TickBuilder
    when: Callable[[FunctionSettings], str]
    enabled: Callable[[FunctionSettings], bool] = _always

    def check_outputs(self, outgoing: list[Outgoing]) -> None:
        check_outputs(self.function, self.outputs, outgoing)

    def start(self, services: TickServices) -> TickAction:
        return self.ticks(self, services)


def publishing(handler: Callable[[Tick, FunctionContext], list[Outgoing]]) -> TickBuilder:
    """Ticks of ``handler``: called with the time and whether questions or answers are
    still in line (``Backlog``); what it returns is published in one transaction."""

    def build(timer: Timer, services: TickServices) -> TickAction:
        context, publisher, backlog = services.context, services.publisher, services.backlog

        def tick() -> dict[str, Any]:
            with tracing.span(f"{timer.function} tick"):
                outgoing = handler(Tick(context.clock(), backlog.moving()), context)
                timer.check_outputs(outgoing)
                publisher.publish(outgoing)
            return {"published": len(outgoing)}

        return tick

    return build


def scheduled_billing(timer: Timer, services: TickServices) -> TickAction:
    """Ticks of the billing schedule: the runs of the tick due, unless this process
    started them already (``bill_on_schedule``)."""
    billing = services.scheduled_billing  # no BILLING_SCHEDULE: stops the process here
    clock = services.context.clock
    schedule = billing.schedule
    log.info(
        "%s: %s in %s, next tick %s",
        timer.function,
        schedule.expression,
        schedule.zone.key,
        schedule.upcoming(clock(), 1)[0].isoformat(),
    )
    handled: datetime | None = None

    def tick() -> dict[str, Any]:
        nonlocal handled
        handled = bill_on_schedule(clock(), billing, handled)
        return {"tick": schedule.name(handled) if handled else None}

    return tick


def run_timer(timer: Timer, services: TickServices, stop: threading.Event) -> None:
    """Tick at once, then every interval, until ``stop`` is set
    (``runtime.stopping.stop_event``). A tick that fails is logged: the next one finds
    the same work again, so nothing is lost by waiting."""
    interval = timer.every(services.settings)
    tick = timer.start(services)
    log.info("%s: %s", timer.function, timer.when(services.settings))
    while True:
        try:
            tick()
        except BillingError as exc:
            log.error("%s: %s; trying again in %.0fs", timer.function, exc, interval)
        if stop.wait(interval):
            break
    services.close()
