"""The HTTP request and response as the HTTP functions see them, free of any framework."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from functions.errors import InvalidRequest
from functions.wire import json_values

MAX_BODY_BYTES = 1 << 20
T = TypeVar("T")
Body = TypeVar("Body")


def documented(cls: T) -> T:
    """A TypedDict of a body whose keys' docstrings describe them in the OpenAPI document
    (which pydantic makes; this module does not import it)."""
    setattr(cls, "__pydantic_config__", {"use_attribute_docstrings": True})  # noqa: B010
    return cls


@dataclass(frozen=True)
class Described:
    """A key's description as metadata, ``Annotated[str, Described("...")]``: unlike a
    docstring, a TypedDict that extends the one declaring it keeps it."""

    text: str

    def __get_pydantic_json_schema__(self, schema: Any, handler: Any) -> Any:
        described = handler(schema)
        described["description"] = self.text
        return described


def closed(cls: T) -> T:
    """``documented``, and a body with no other key (``additionalProperties: false``)."""
    setattr(cls, "__pydantic_config__", {"use_attribute_docstrings": True, "extra": "forbid"})  # noqa: B010
    return cls


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
                f" {self.method} {self.path}; {known}",
                problems=tuple(
                    (("query", name), f"unknown query parameter {name!r}; {known}")
                    for name in unknown
                ),
            )


@dataclass(frozen=True)
class HttpResponse(Generic[Body]):
    """An answer: its status, its body (JSON unless a text of a content type of its own),
    its headers."""

    status: int
    body: Body
    headers: Mapping[str, str] = field(default_factory=dict)

    def rendered(self) -> tuple[str, dict[str, str]]:
        """The body as sent, and the headers: JSON unless the handler gave text of a
        content type of its own (such as /metrics)."""
        headers = dict(self.headers)
        if isinstance(self.body, str) and "Content-Type" in headers:
            return self.body, headers
        # JSON, of the media type the headers name if they do (application/problem+json)
        return json.dumps(self.body, ensure_ascii=False), {
            "Content-Type": "application/json",
            **headers,
        }
