"""An EventBridge Scheduler invocation to a timer-triggered function: one tick."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from runtime.timers import TickAction

log = logging.getLogger(__name__)


class ScheduleAdapter:
    """One timer as a Lambda handler. Whatever the schedule sends is ignored: a tick needs
    only what its timer built (``Timer.start``); it answers what the tick did."""

    def __init__(self, function: str, tick: TickAction) -> None:
        self.function = function
        self.tick = tick

    def __call__(self, _event: Mapping[str, Any], _lambda_context: object = None) -> Any:
        done = self.tick()
        log.info("%s: %s", self.function, ", ".join(f"{k} {v}" for k, v in done.items()))
        return done
