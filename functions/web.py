"""The HTTP request and response as the HTTP functions see them, free of any framework."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from functions import json_values
from functions.errors import InvalidRequest

MAX_BODY_BYTES = 1 << 20


@dataclass(frozen=True)
class HttpRequest:
    """``headers`` have lower-case names; ``body`` holds at most ``MAX_BODY_BYTES + 1`` bytes."""

    method: str
    path: str = "/"
    query: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        if len(self.body) > MAX_BODY_BYTES:
            raise InvalidRequest(
                f"the request body is over {MAX_BODY_BYTES} bytes; send less per request",
                status=413,
            )
        content_type = self.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json" and not content_type.endswith("+json"):
            shown = repr(content_type) if content_type else "missing"
            raise InvalidRequest(
                f"the Content-Type is {shown}; send the body as JSON with"
                " `Content-Type: application/json`",
                status=415,
            )
        if not self.body.strip():
            raise InvalidRequest("the request has no body; send a JSON document")
        try:
            return json_values.loads(self.body)
        except ValueError as exc:
            raise InvalidRequest(f"the request body is not valid JSON: {exc}") from None

    def query_only(self, *allowed: str) -> None:
        """Refuse query parameters the route does not know: a typo must not go unnoticed."""
        unknown = sorted(set(self.query) - set(allowed))
        if unknown:
            known = f"it takes {', '.join(allowed)}" if allowed else "it takes none"
            raise InvalidRequest(
                f"unknown query parameter(s) {', '.join(map(repr, unknown))} for"
                f" {self.method} {self.path}; {known}"
            )

    def json_object(self) -> Mapping[str, Any]:
        value = self.json()
        if not isinstance(value, dict):
            raise InvalidRequest(
                f"the request body must be a JSON object, not {type(value).__name__}"
            )
        return value


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)

    def rendered(self) -> tuple[str, dict[str, str]]:
        """The body as sent, and the headers: JSON unless the handler gave text of a
        content type of its own (such as /metrics)."""
        headers = dict(self.headers)
        if isinstance(self.body, str) and "Content-Type" in headers:
            return self.body, headers
        return json.dumps(self.body, ensure_ascii=False), {
            "Content-Type": "application/json",
            **headers,
        }


@dataclass(frozen=True)
class Route:
    """One operation of an HTTP function: ``handle(request, context, **path_parameters)``.

    ``path`` is an OpenAPI path template (``/runs/{runId}``); its parameters reach the
    handler in snake case (``run_id``). The operation's OpenAPI description, kept in
    ``functions/openapi.py`` under ``operation_id``, names the query parameters it takes.
    """

    method: str
    path: str
    operation_id: str
    handle: Callable[..., HttpResponse]
    # Answered without a bearer token: it tells nothing about customers or runs.
    public: bool = False
