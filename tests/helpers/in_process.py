"""HTTP functions run in-process against the stack's S3 server, for integration tests that
run several coordinators or CRMs at once without a broker of their own: their settings, a
publisher that records, a function served over services of its own, a JSON body POSTed to
one."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from typing import Any

from functions.http.web import HttpRequest, HttpResponse
from functions.wire.messages import Outgoing
from runtime.config import FunctionSettings, StackSettings
from runtime.http_function import HttpFunction
from runtime.services import Services


def function_settings(settings: StackSettings) -> FunctionSettings:
    """The stack's settings as a function's alone: no token, as ``StackSettings`` (a client
    too) falls back to the stack's token file, and these calls carry none."""
    fields = FunctionSettings.__dataclass_fields__
    return FunctionSettings(**{name: getattr(settings, name) for name in fields})


class RecordingPublisher:
    """Acknowledges every publish and keeps what was published, from any thread."""

    def __init__(self) -> None:
        self.published: list[Outgoing] = []
        self._lock = threading.Lock()

    def publish(
        self, messages: Sequence[Outgoing], before_commit: Callable[[], None] = lambda: None
    ) -> None:
        before_commit()
        with self._lock:
            self.published.extend(messages)


def serving(role: str, services: Services) -> HttpFunction:
    """An HTTP function of its own process (clients of its own) over ``services``."""
    return HttpFunction(role, lambda: services)


def post(function: HttpFunction, path: str, body: object) -> HttpResponse[Any]:
    """``body`` as JSON, POSTed to ``path`` of ``function``."""
    head = HttpRequest("POST", path, headers={"content-type": "application/json"})
    return function(head, lambda: json.dumps(body).encode())
