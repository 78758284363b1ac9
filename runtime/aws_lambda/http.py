"""A Lambda function URL or API Gateway HTTP API (payload format 2.0) event to an HTTP
function, answered by the same ``HttpFunction`` as on functions-framework."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote

from functions.errors import MalformedMessage
from functions.http.problems import problem
from functions.http.web import MAX_BODY_BYTES, HttpRequest, HttpResponse
from runtime.http_function import HttpFunction


def request_of(event: Mapping[str, Any]) -> tuple[HttpRequest, bytes]:
    """The request an event carries, without its body, and the body."""
    if event.get("version") != "2.0":
        raise MalformedMessage(
            f"not an HTTP event of payload format 2.0 (version {event.get('version')!r}); use"
            " a function URL or an HTTP API with payload format 2.0"
        )
    query: dict[str, str] = {}
    for name, value in parse_qsl(event.get("rawQueryString", ""), keep_blank_values=True):
        query.setdefault(name, value)  # the first of a repeated parameter, as Flask's args
    head = HttpRequest(
        method=event["requestContext"]["http"]["method"],
        # A function URL hands the path over as sent, percent-encoded; functions-framework
        # (werkzeug) decodes it, and so does this, so the same path reaches the same route.
        path=unquote(event.get("rawPath") or "/"),
        query=query,
        headers={name.lower(): value for name, value in (event.get("headers") or {}).items()},
    )
    body = event.get("body") or ""
    try:
        raw = (
            base64.b64decode(body, validate=True) if event.get("isBase64Encoded") else body.encode()
        )
    except (binascii.Error, ValueError) as exc:
        raise MalformedMessage(f"the body is marked base64 but is not: {exc}") from None
    return head, raw[: MAX_BODY_BYTES + 1]


def response_of(response: HttpResponse[Any], method: str = "GET") -> dict[str, Any]:
    body, headers = response.rendered()
    return {
        "statusCode": response.status,
        "headers": headers,
        "body": "" if method == "HEAD" else body,  # a GET's headers, no body (as werkzeug)
        "isBase64Encoded": False,
    }


class HttpAdapter:
    """One HTTP function as a Lambda handler."""

    def __init__(self, function: HttpFunction) -> None:
        self.function = function

    def __call__(self, event: Mapping[str, Any], _lambda_context: object = None) -> dict[str, Any]:
        try:
            head, body = request_of(event)
        except (MalformedMessage, KeyError) as exc:
            return response_of(problem(400, f"unreadable event: {exc}"))
        return response_of(self.function(head, lambda: body), head.method)
