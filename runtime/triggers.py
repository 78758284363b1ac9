"""What triggers which function: the tables to read to see the event wiring.

``TRIGGERS``: each Kafka-triggered function consumes in its own consumer group, so it
scales on its own and two copies of one function share the partitions of its topic.
``TIMERS``: functions the runtime calls every few seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from functions.context import FunctionContext
from functions.crm_answer import crm_answer
from functions.engine_complete import engine_complete
from functions.engine_start import engine_start
from functions.errors import BillingError
from functions.messages import Answer, Outgoing, Question, Stream, WorkflowMessage
from functions.retry_unanswered import Tick, retry_unanswered
from functions.storage import BatchScoped

M = TypeVar("M")
M_co = TypeVar("M_co", covariant=True)


class WireParser(Protocol[M_co]):
    def from_wire(self, obj: Mapping[str, Any]) -> M_co: ...


def _check_outputs(function: str, outputs: tuple[Stream, ...], outgoing: list[Outgoing]) -> None:
    stray = [o.stream.value for o in outgoing if o.stream not in outputs]
    if stray:
        declared = [stream.value for stream in outputs]
        raise BillingError(
            f"{function} returned a message for {stray[0]}, which is not among its declared"
            f" outputs {declared}; fix runtime/triggers.py"
        )


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
        _check_outputs(self.function, self.outputs, outgoing)


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


@dataclass(frozen=True)
class Timer:
    function: str
    handler: Callable[[Tick, FunctionContext], list[Outgoing]]
    outputs: tuple[Stream, ...]

    def check_outputs(self, outgoing: list[Outgoing]) -> None:
        _check_outputs(self.function, self.outputs, outgoing)


TIMERS: tuple[Timer, ...] = (
    Timer(function="retry-unanswered", handler=retry_unanswered, outputs=(Stream.QUESTIONS,)),
)

TIMER_BY_FUNCTION: Mapping[str, Timer] = {timer.function: timer for timer in TIMERS}
FUNCTIONS: tuple[str, ...] = (*BY_FUNCTION, *TIMER_BY_FUNCTION)
# Started at the ticks of BILLING_SCHEDULE, when there is one (runtime/scheduler.py).
SCHEDULER = "bill-on-schedule"
