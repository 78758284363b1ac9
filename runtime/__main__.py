"""The runtime's command line.

python -m runtime engine-start       # one Kafka-triggered function, in its own group
python -m runtime retry-unanswered   # one timer-triggered function
python -m runtime bill-on-schedule   # a timer too: the ticks of BILLING_SCHEDULE
python -m runtime all                # every function, one process each
python -m runtime list               # the trigger tables
"""

from __future__ import annotations

import argparse
import logging
import sys

from functions.errors import BillingError
from runtime import tracing
from runtime.config import FunctionSettings
from runtime.logs import configure_logging
from runtime.timers import run_timer
from runtime.triggers import BY_FUNCTION, FUNCTIONS, TIMER_BY_FUNCTION, TIMERS, TRIGGERS

log = logging.getLogger("runtime")


def _describe(settings: FunctionSettings) -> str:
    lines = []
    for trigger in TRIGGERS:
        outputs = ", ".join(settings.topic(s) for s in trigger.outputs) or "-"
        lines.append(
            f"{trigger.function:16} on {settings.topic(trigger.source):16}"
            f" group {settings.consumer_group_prefix + trigger.consumer_group:24} -> {outputs}"
        )
    for timer in TIMERS:
        outputs = ", ".join(settings.topic(s) for s in timer.outputs) or "-"
        lines.append(f"{timer.function:16} {timer.when(settings)} -> {outputs}")
    return "\n".join(lines)


def run_function(function: str, settings: FunctionSettings) -> int:
    from runtime.kafka.batch_loop import BatchLoop
    from runtime.lifeline import hold_if_supervised
    from runtime.metrics import serve
    from runtime.services import Services
    from runtime.stopping import stop_event

    # Heard from the start: a SIGTERM while the clients are being built still stops cleanly.
    stop = stop_event(function)
    log.info("%s: starting", function)
    hold_if_supervised(settings.supervisor_pid)
    serve(settings.metrics_host, settings.metrics_port)
    services = Services(settings, role=function)
    if function in TIMER_BY_FUNCTION:
        run_timer(TIMER_BY_FUNCTION[function], services, stop)
        log.info("%s: stopped", function)
        return 0
    trigger = BY_FUNCTION[function]
    worker = BatchLoop(trigger, settings, services.context_for(trigger))
    log.info(
        "%s: consuming %s as group %s%s on %s, up to %d record(s) in flight, %s",
        function,
        settings.topic(trigger.source),
        settings.consumer_group_prefix,
        trigger.consumer_group,
        settings.kafka_bootstrap_servers,
        settings.max_in_flight,
        settings.processing_guarantee,
    )
    worker.run(stop)
    log.info("%s: stopped", function)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m runtime", description="Run the Kafka-triggered billing functions."
    )
    parser.add_argument("function", choices=[*FUNCTIONS, "all", "list"])
    args = parser.parse_args(argv)
    try:
        settings = FunctionSettings.from_env()
        configure_logging(settings, role=args.function)
        if args.function in FUNCTIONS:  # `all` starts a process a function, each its own
            tracing.configure(settings, args.function)
        if args.function == "list":
            print(_describe(settings))
            return 0
        if args.function == "all":
            from runtime.supervisor import supervise

            return supervise(settings)
        return run_function(args.function, settings)
    except BillingError as exc:
        log.error("%s", exc)
        return 2


if __name__ == "__main__":
    sys.exit(main())
