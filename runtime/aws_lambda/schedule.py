"""An EventBridge Scheduler invocation to a timer-triggered function: one tick."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from functions.context import FunctionContext
from runtime.services import Publisher
from runtime.timers import tick
from runtime.triggers import Timer

log = logging.getLogger(__name__)


class ScheduleAdapter:
    """One timer as a Lambda handler. Whatever the schedule sends is ignored: a tick only
    needs the time and whether questions or answers are still in line."""

    def __init__(
        self,
        timer: Timer,
        context: FunctionContext,
        publisher: Publisher,
        backlog_moving: Callable[[], bool],
    ) -> None:
        self.timer = timer
        self.context = context
        self.publisher = publisher
        self.backlog_moving = backlog_moving

    def __call__(self, _event: Mapping[str, Any], _lambda_context: object = None) -> dict[str, int]:
        published = tick(self.timer, self.context, self.backlog_moving(), self.publisher)
        log.info("%s: %d message(s) published", self.timer.function, published)
        return {"published": published}
