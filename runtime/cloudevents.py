"""CloudEvents 1.0 in Kafka's binary mode: the event's attributes ride in headers.

Every message we produce carries ``ce_specversion``, ``ce_id``, ``ce_type``,
``ce_source``, ``ce_time`` and ``content-type``; its value stays the lab's JSON and its
key the workflow id, so a service that knows nothing of CloudEvents (the lab's) reads
it as before. What we consume needs no headers at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from functions.context import iso_millis, utc_now
from functions.wire.messages import Answer, Question, WireMessage, WorkflowMessage

Headers = list[tuple[str, bytes]]
SPEC_VERSION = "1.0"
TYPE_PREFIX = "io.billing."
SOURCE_PREFIX = "/billing/"
JSON = "application/json"
DEAD_LETTER = f"{TYPE_PREFIX}dead-letter"


def event_type(message: WireMessage) -> str:
    """``io.billing.workflow.bill-generation``, ``io.billing.question.customer``,
    ``io.billing.answer``."""
    if isinstance(message, WorkflowMessage):
        return f"{TYPE_PREFIX}workflow.{message.workflow_type}"
    if isinstance(message, Question):
        return f"{TYPE_PREFIX}question.{message.category}"
    if isinstance(message, Answer):
        return f"{TYPE_PREFIX}answer"
    return f"{TYPE_PREFIX}{type(message).__name__.lower()}"


def headers(type_: str, function: str, content_type: str = JSON) -> Headers:
    """A new event's headers; ``function`` is the producing function, the event's source."""
    return [
        ("ce_specversion", SPEC_VERSION.encode()),
        ("ce_id", str(uuid.uuid4()).encode()),
        ("ce_type", type_.encode()),
        ("ce_source", f"{SOURCE_PREFIX}{function}".encode()),
        ("ce_time", iso_millis(utc_now()).encode()),
        ("content-type", content_type.encode()),
    ]


def for_message(message: WireMessage, function: str) -> Headers:
    return headers(event_type(message), function)


def for_dead_letter(original: Sequence[tuple[str, bytes]] | None, function: str) -> Headers:
    """A dead letter is an event of its own: the original's other headers are kept, its
    id as ``dlq-source-ce-id``, its content type as it was (bytes of unknown kind if none)."""
    original_id = attribute(original, "ce_id")
    content_type = attribute(original, "content-type") or "application/octet-stream"
    kept = [
        (name, value)
        for name, value in original or ()
        if not name.startswith("ce_") and name != "content-type"
    ]
    source_id = [("dlq-source-ce-id", original_id.encode())] if original_id else []
    return [*kept, *headers(DEAD_LETTER, function, content_type), *source_id]


def attribute(record_headers: Sequence[tuple[str, bytes]] | None, name: str) -> str | None:
    """A header's value as text, or None if the record has no such header."""
    for key, value in record_headers or ():
        if key == name:
            return value.decode(errors="replace") if value is not None else None
    return None
