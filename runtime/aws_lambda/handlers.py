"""The Lambda entry points, one per function (``Handler: runtime.aws_lambda.handlers.<name>``).

Everything a function needs is built on its first invocation (the cold start) from the
environment, through the same ``FunctionSettings`` and ``Services`` as the local runtime, for
the function's role, and kept for the invocations that follow.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from runtime import tracing
from runtime.aws_lambda.http import HttpAdapter
from runtime.aws_lambda.kafka import KafkaAdapter
from runtime.aws_lambda.schedule import ScheduleAdapter
from runtime.config import FunctionSettings
from runtime.http_function import HttpFunction
from runtime.logs import configure_logging
from runtime.services import Services
from runtime.triggers import BY_FUNCTION, TIMER_BY_FUNCTION

Handler = Callable[[Mapping[str, Any], object], Any]


@functools.cache
def _settings() -> FunctionSettings:
    """The environment, read once a process; its logging and tracing set up."""
    settings = FunctionSettings.from_env()
    configure_logging(settings, role=settings.function_target)
    tracing.configure(settings, settings.function_target)
    return settings


@functools.cache
def _services(role: str) -> Services:
    return Services(_settings(), role=role)


def _lazily(build: Callable[[], Handler]) -> Handler:
    """A handler built on its first call: the cold start."""
    built = functools.cache(build)

    def handler(event: Mapping[str, Any], lambda_context: object = None) -> Any:
        try:
            return built()(event, lambda_context)
        finally:
            tracing.flush()  # Lambda may freeze the process once it returns

    return handler


def _kafka(function: str) -> Handler:
    def build() -> Handler:
        services = _services(function)
        trigger = BY_FUNCTION[function]
        return KafkaAdapter(trigger, services.settings, services.context_for(trigger))

    return _lazily(build)


def _http(role: str) -> Handler:
    return _lazily(lambda: HttpAdapter(HttpFunction(role, lambda: _services(role))))


def _timer(function: str) -> Handler:
    def build() -> Handler:
        return ScheduleAdapter(function, TIMER_BY_FUNCTION[function].start(_services(function)))

    return _lazily(build)


engine_start = _kafka("engine-start")
crm_answer = _kafka("crm-answer")
engine_complete = _kafka("engine-complete")
coordinator = _http("coordinator")
crm = _http("crm")
retry_unanswered = _timer("retry-unanswered")
bill_on_schedule = _timer("bill-on-schedule")
