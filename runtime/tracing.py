"""OpenTelemetry traces, one a workflow, across the HTTP functions, Kafka and S3.

Off unless ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is
set: then nothing of OpenTelemetry's SDK is loaded, no exporter thread runs, and every
helper here returns at once. On, spans go out over OTLP/HTTP as the standard ``OTEL_*``
variables say (endpoint, headers, sampler: parent-based by default, so the coordinator's
decision holds for the whole workflow); ``service.name`` is the function's.

Spans are named and attributed per OpenTelemetry's messaging semantic conventions 1.27:
``process <topic>`` (CONSUMER) per record, ``send <topic>`` (PRODUCER) per message,
``receive <topic>`` (CLIENT) per batch taken, with a link per record, and a SERVER span per
HTTP request, and a CLIENT span per S3 request.

A record's context comes from its W3C ``traceparent`` and ``tracestate`` headers. One that
is malformed, oversized or repeated is dropped, and the record starts a trace of its own: a
header from outside never fails a request nor dead-letters a record.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from typing import TYPE_CHECKING, Any

from runtime.cloudevents import Headers

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.trace import Span, Tracer

    from runtime.config import TraceSettings

log = logging.getLogger(__name__)

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
# The CloudEvents distributed-tracing extension: the workflow's own root, kept unchanged.
CE_TRACEPARENT = "ce_traceparent"
SEMCONV = "https://opentelemetry.io/schemas/1.27.0"
_TRACEPARENT = re.compile(r"00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}")
_MAX_TRACESTATE = 512
_TRACE_HEADERS = (TRACEPARENT, TRACESTATE)
_S3_SPAN = "billing_trace_span"

_tracer: Tracer | None = None
_provider_in_use: Any = None
_workflow_root: ContextVar[str | None] = ContextVar("workflow_root", default=None)


def enabled() -> bool:
    return _tracer is not None


def configure(settings: TraceSettings, service: str) -> bool:
    """Turn tracing on for this process, named ``service``, if an OTLP endpoint is set."""
    if not settings.tracing:
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    named = {} if settings.otel_service_name else {"service.name": service}
    # The SDK reads OTEL_TRACES_SAMPLER (parent-based "always on" unless it says) itself.
    provider = TracerProvider(resource=Resource.create(named))
    use(provider, BatchSpanProcessor(OTLPSpanExporter()))
    endpoint = settings.otel_exporter_otlp_traces_endpoint or settings.otel_exporter_otlp_endpoint
    log.info("tracing on: spans of %s go to %s over OTLP/HTTP", service, endpoint)
    return True


def use(provider: Any, processor: Any) -> None:
    """Send this process's spans through ``processor`` (tests: an in-memory exporter's)."""
    global _tracer, _provider_in_use
    provider.add_span_processor(processor)
    _provider_in_use = provider
    _tracer = provider.get_tracer("kafka-billing-functions", schema_url=SEMCONV)


def flush() -> None:
    """Send the spans ended so far (a Lambda invocation's, before it is frozen)."""
    if _provider_in_use is not None:
        _provider_in_use.force_flush()


def stop() -> None:
    """Turn tracing off again (tests)."""
    global _tracer, _provider_in_use
    _tracer = _provider_in_use = None


def trace_s3_requests(client: Any) -> None:
    """A CLIENT span for each request ``client`` makes, child of the current span, from
    botocore's own events (its parameters built, its answer parsed or its failure). Nothing
    is done while tracing is off."""

    def started(model: Any, params: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
        if _tracer is None:
            return
        from opentelemetry.trace import SpanKind

        attributes = {"rpc.system": "aws-api", "rpc.service": "S3", "rpc.method": model.name}
        for name, attribute in (("Bucket", "aws.s3.bucket"), ("Key", "aws.s3.key")):
            if isinstance(params.get(name), str):
                attributes[attribute] = params[name]
        span = _tracer.start_span(f"S3.{model.name}", kind=SpanKind.CLIENT, attributes=attributes)
        context[_S3_SPAN] = span

    def ended(context: dict[str, Any], http_response: Any = None, **_: Any) -> None:
        span = context.pop(_S3_SPAN, None)
        if span is None:
            return
        if http_response is not None:
            span.set_attribute("http.response.status_code", http_response.status_code)
        span.end()

    client.meta.events.register("before-parameter-build.s3", started)
    client.meta.events.register("after-call.s3", ended)
    client.meta.events.register("after-call-error.s3", ended)


# -- what crosses a hop -------------------------------------------------------------------


def _single(headers: Sequence[tuple[str, bytes | str]], name: str) -> str | None:
    """The header's text if it is there exactly once; None if absent or repeated."""
    found = [value for key, value in headers if key.lower() == name]
    if len(found) != 1 or found[0] is None:
        return None
    value = found[0]
    return value.decode("ascii", errors="replace") if isinstance(value, bytes) else value


def context_of(headers: Sequence[tuple[str, bytes | str]]) -> Context | None:
    """The context a record's or a request's headers carry; None (a new trace) for none, or
    for a ``traceparent`` or ``tracestate`` that is malformed, oversized or repeated."""
    if _tracer is None:
        return None
    parent = _single(headers, TRACEPARENT)
    if parent is None or not _TRACEPARENT.fullmatch(parent):
        return None
    carrier = {TRACEPARENT: parent}
    if sum(key.lower() == TRACESTATE for key, _ in headers):
        state = _single(headers, TRACESTATE)
        if state is None or len(state) > _MAX_TRACESTATE or not state.isprintable():
            return None
        carrier[TRACESTATE] = state
    extracted: Context = _propagator().extract(carrier)
    return extracted


@cache
def _propagator() -> Any:
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    return TraceContextTextMapPropagator()


def _current_headers() -> Headers:
    carrier: dict[str, str] = {}
    _propagator().inject(carrier)
    return [(name, carrier[name].encode()) for name in _TRACE_HEADERS if name in carrier]


def sending(
    topic: str,
    key: bytes | None,
    consumed: Sequence[tuple[str, bytes]] | None,
    continues: str | None,
) -> Headers:
    """The trace headers of a message about to be sent to ``topic``, from a ``send`` span:

    - while a record ``consumed`` is processed, a child of its ``process`` span, in its
      workflow's trace (``ce_traceparent`` kept as the record had it);
    - else, continuing the workflow whose root ``continues`` names (a question asked again);
    - else, the root of a new workflow's trace, linked to the span that sent it (the
      coordinator's HTTP request): one trace a workflow. Its own context is the new
      workflow's ``ce_traceparent``.

    A consumed record's trace headers are replaced by these, never sent twice.
    """
    if _tracer is None:
        return []
    from opentelemetry.context import Context
    from opentelemetry.trace import Link, SpanKind, get_current_span

    parent: Context | None = None  # the current span: the record's ``process``
    links = []
    root = _workflow_root.get()
    if consumed is None:
        # Linked to what sent it: the HTTP request, the timer's tick.
        current = get_current_span().get_span_context()
        links = [Link(current)] if current.is_valid else []
        root = _valid(continues)
        parent = context_of([(TRACEPARENT, root)]) if root else Context()  # Context(): a new trace
    with _tracer.start_as_current_span(
        f"send {topic}",
        context=parent,
        kind=SpanKind.PRODUCER,
        attributes=_messaging("send", topic, key),
        links=links,
    ):
        headers = _current_headers()
    own = next(value.decode() for name, value in headers if name == TRACEPARENT)
    return [*headers, (CE_TRACEPARENT, (root or own).encode())]


def _valid(traceparent: str | None) -> str | None:
    return traceparent if traceparent and _TRACEPARENT.fullmatch(traceparent) else None


def _messaging(operation: str, topic: str, key: bytes | None = None) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "messaging.system": "kafka",
        "messaging.operation.type": operation,
        "messaging.operation.name": operation,
        "messaging.destination.name": topic,
    }
    if key is not None:
        attributes["messaging.kafka.message.key"] = key.decode(errors="replace")
    return attributes


# -- spans --------------------------------------------------------------------------------


@contextmanager
def processing(
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    headers: Sequence[tuple[str, bytes]],
    group: str,
) -> Iterator[Span | None]:
    """The ``process <topic>`` span of one record, child of the record's own context."""
    if _tracer is None:
        yield None
        return
    from opentelemetry.trace import SpanKind

    attributes = {
        **_messaging("process", topic, key),
        "messaging.destination.partition.id": str(partition),
        "messaging.kafka.offset": offset,
        "messaging.consumer.group.name": group,
    }
    carried = context_of(headers)
    with _tracer.start_as_current_span(
        f"process {topic}", context=carried, kind=SpanKind.CONSUMER, attributes=attributes
    ) as span:
        # The workflow's root: as the record names it, else where its trace came from,
        # else here (a record from a service that does not trace).
        root = _valid(_single(headers, CE_TRACEPARENT)) or (
            _valid(_single(headers, TRACEPARENT)) if carried is not None else None
        )
        token = _workflow_root.set(root or traceparent_of_current())
        try:
            yield span
        finally:
            _workflow_root.reset(token)


@contextmanager
def receiving(topic: str, records: Sequence[Any]) -> Iterator[None]:
    """The ``receive <topic>`` span of a batch: a link to each record's context; ended once
    the batch is done, never kept across a poll."""
    if _tracer is None:
        yield
        return
    from opentelemetry.trace import Link, SpanKind, get_current_span

    links = []
    for record in records:
        carried = context_of(record.headers)
        if carried is not None:
            links.append(Link(get_current_span(carried).get_span_context()))
    attributes = {**_messaging("receive", topic), "messaging.batch.message_count": len(records)}
    with _tracer.start_as_current_span(
        f"receive {topic}", kind=SpanKind.CLIENT, attributes=attributes, links=links
    ):
        yield


@contextmanager
def serving(method: str, route: str, headers: Mapping[str, str]) -> Iterator[Span | None]:
    """The SERVER span of an HTTP request, continuing the caller's ``traceparent``."""
    if _tracer is None:
        yield None
        return
    from opentelemetry.trace import SpanKind

    with _tracer.start_as_current_span(
        f"{method} {route}",
        context=context_of(list(headers.items())),
        kind=SpanKind.SERVER,
        attributes={"http.request.method": method, "http.route": route},
    ) as span:
        yield span


@contextmanager
def span(name: str) -> Iterator[None]:
    """An INTERNAL span, such as a timer's tick."""
    if _tracer is None:
        yield
        return
    with _tracer.start_as_current_span(name):
        yield


def traceparent_of_current() -> str | None:
    return next((value.decode() for name, value in _current_headers() if name == TRACEPARENT), None)


def workflow_root() -> str | None:
    """The root of the trace of the workflow whose record is being processed (kept with its
    waiting job, so that a question asked again continues it), or None."""
    return _workflow_root.get() if _tracer is not None else None
