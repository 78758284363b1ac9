"""The HTTP request and response as the HTTP functions see them, free of any framework."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from functions.errors import InvalidRequest


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str = "/"
    query: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> Any:
        if not self.body.strip():
            raise InvalidRequest("the request has no body; send a JSON document")
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidRequest(f"the request body is not valid JSON: {exc}") from exc

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
