"""Which workflow or run a log line is about.

The runtime sets it around each message it hands a function, a function that works
through several workflows sets it around each, and the log formatter adds it to every
line logged meanwhile, so each line about a workflow names the workflow and its run.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType

from functions.wire.identifiers import WorkflowId

_NONE: Mapping[str, str | None] = MappingProxyType({})
_fields: ContextVar[Mapping[str, str | None]] = ContextVar("log_fields", default=_NONE)


@contextmanager
def about_workflow(workflow_id: WorkflowId) -> Iterator[None]:
    with _about({"workflowId": workflow_id.text, "runId": workflow_id.run_id}):
        yield


@contextmanager
def about_run(run_id: str) -> Iterator[None]:
    with _about({"runId": run_id}):
        yield


@contextmanager
def _about(fields: Mapping[str, str | None]) -> Iterator[None]:
    token = _fields.set(fields)
    try:
        yield
    finally:
        _fields.reset(token)


def current() -> Mapping[str, str | None]:
    return _fields.get()
