"""What triggers which function: the tables to read to see the event wiring.

``TRIGGERS``: each Kafka-triggered function consumes in its own consumer group, so it
scales on its own and two copies of one function share the partitions of its topic.
``TIMERS``: functions the runtime ticks every few seconds, each at its own interval and
only where its settings turn it on (the billing schedule needs ``BILLING_SCHEDULE``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from functions.context import FunctionContext
from functions.storage import BatchScoped
from functions.triggered.crm_answer import crm_answer
from functions.triggered.engine_complete import engine_complete
from functions.triggered.engine_start import engine_start
from functions.triggered.retry_unanswered import retry_unanswered
from functions.wire.messages import Answer, Outgoing, Question, Stream, WorkflowMessage
from runtime import timers
from runtime.config import FunctionSettings
from runtime.ports import check_outputs
from runtime.timers import Timer

M = TypeVar("M")
M_co = TypeVar("M_co", covariant=True)


class WireParser(Protocol[M_co]):
    def from_wire(self, obj: Mapping[str, Any]) -> M_co: ...


@dataclass(frozen=True)
class Trigger(Generic[M]):
    function: str
    source: Stream
    consumer_group: str
    message: WireParser[M]
    handler: Callable[[M, FunctionContext], list[Outgoing]]
    outputs: tuple[Stream, ...]
    # It answers from the CRM's customers, so the lab's are seeded before it starts.
    reads_customers: bool = False
    # The stores it uses a batch of records at a time: writes held until the batch is done
    # and made before any of its outputs leaves (engine-start's jobs, which the answers to
    # its questions must find), reads made once a batch (whether a run was cancelled).
    per_batch: Callable[[FunctionContext], Sequence[BatchScoped]] = lambda _: ()

    def check_outputs(self, outgoing: list[Outgoing]) -> None:
        """Refuse a message for a stream this table does not give the function."""
        check_outputs(self.function, self.outputs, outgoing)


TRIGGERS: tuple[Trigger[Any], ...] = (
    Trigger(
        function="engine-start",
        source=Stream.WORKFLOWS,
        consumer_group="billing-engine-start",
        message=WorkflowMessage,
        handler=engine_start,
        outputs=(Stream.QUESTIONS,),
        per_batch=lambda context: (context.new_jobs, context.cancellations),
    ),
    Trigger(
        function="crm-answer",
        source=Stream.QUESTIONS,
        consumer_group="crm-answer",
        message=Question,
        handler=crm_answer,
        outputs=(Stream.ANSWERS,),
        reads_customers=True,
    ),
    Trigger(
        function="engine-complete",
        source=Stream.ANSWERS,
        consumer_group="billing-engine-complete",
        message=Answer,
        handler=engine_complete,
        outputs=(),
        per_batch=lambda context: (context.cancellations,),
    ),
)

BY_FUNCTION: Mapping[str, Trigger[Any]] = {trigger.function: trigger for trigger in TRIGGERS}


def answering_groups(settings: FunctionSettings) -> list[tuple[str, str]]:
    """The consumer groups, and their topics, that answer questions: while they work through
    a backlog, a question not yet answered is in line, not lost (``Backlog``)."""
    return [
        (settings.consumer_group_prefix + trigger.consumer_group, settings.topic(trigger.source))
        for trigger in TRIGGERS
        if trigger.source in (Stream.QUESTIONS, Stream.ANSWERS)
    ]


def _schedule_when(settings: FunctionSettings) -> str:
    if settings.billing_schedule is None:
        return "off (BILLING_SCHEDULE is unset)"
    return (
        f"on {settings.billing_schedule!r} in {settings.billing_schedule_tz},"
        f" checked every {settings.schedule_check_s:g}s"
    )


TIMERS: tuple[Timer, ...] = (
    Timer(
        function="retry-unanswered",
        outputs=(Stream.QUESTIONS,),
        every=lambda settings: settings.retry_interval_s,
        ticks=timers.publishing(retry_unanswered),
        when=lambda settings: f"every {settings.retry_interval_s:g}s",
    ),
    Timer(
        function="bill-on-schedule",
        outputs=(Stream.WORKFLOWS,),
        every=lambda settings: settings.schedule_check_s,
        ticks=timers.scheduled_billing,
        when=_schedule_when,
        enabled=lambda settings: settings.billing_schedule is not None,
    ),
)

TIMER_BY_FUNCTION: Mapping[str, Timer] = {timer.function: timer for timer in TIMERS}
FUNCTIONS: tuple[str, ...] = (*BY_FUNCTION, *TIMER_BY_FUNCTION)


def enabled_functions(settings: FunctionSettings) -> tuple[str, ...]:
    """What `runtime all` runs with ``settings``: every Kafka-triggered function, and the
    timers their settings turn on."""
    return (*BY_FUNCTION, *(timer.function for timer in TIMERS if timer.enabled(settings)))
