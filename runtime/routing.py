"""Dispatch by the operations' declarations: werkzeug's router matches the path and method,
and each refusal (404, 405, an unknown query parameter) names what the function offers."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from werkzeug.exceptions import MethodNotAllowed as NoSuchMethod
from werkzeug.exceptions import NotFound as NoSuchPath
from werkzeug.routing import Map, RoutingException, Rule

from functions.errors import MethodNotAllowed, NotFound
from functions.http.operation import Operation
from functions.http.web import HttpRequest, HttpResponse

_TEMPLATE_PARAMETER = re.compile(r"\{(\w+)\}")


def _rule(operation: Operation) -> Rule:
    path = _TEMPLATE_PARAMETER.sub(lambda m: f"<{m.group(1)}>", operation.path)
    return Rule(path, endpoint=operation, methods=[operation.method])


class Router:
    def __init__(self, function: str, operations: Sequence[Operation]) -> None:
        self.function = function
        self.operations = tuple(operations)
        # A doubled slash is a path no route has, not one to redirect to (werkzeug merges
        # them by default, answering 308 before auth, and the Lambda adapter has no redirect).
        rules = [_rule(operation) for operation in self.operations]
        self._urls = Map(rules, merge_slashes=False).bind("function")
        self._public_paths = [
            re.compile("[^/]+".join(map(re.escape, _TEMPLATE_PARAMETER.split(op.path)[::2])))
            for op in self.operations
            if op.public
        ]
        self._offered = ", ".join(f"{o.method} {o.path}" for o in self.operations if not o.public)

    def is_public(self, path: str) -> bool:
        """Whether ``path`` is one of the routes anyone may call, whatever the method."""
        path = path.rstrip("/") or "/"
        return any(public.fullmatch(path) for public in self._public_paths)

    def match(self, request: HttpRequest) -> tuple[Operation, Mapping[str, str]]:
        """The operation ``request`` asks for, and its path's parameters by name."""
        # A trailing slash changes nothing: /runs/<id>/ is /runs/<id>.
        path = request.path.rstrip("/") or "/"
        try:
            endpoint, parameters = self._urls.match(path, method=request.method)
        except (NoSuchPath, RoutingException):
            raise NotFound(
                f"no route for {request.method} {request.path}; {self.function} takes"
                f" {self._offered}"
            ) from None
        except NoSuchMethod as exc:
            allowed = tuple(sorted(exc.valid_methods or ()))  # GET, HEAD, POST: stable, as read
            raise MethodNotAllowed(request.method, path, allowed) from None
        # HEAD reaches a GET's operation (werkzeug's rule), as HTTP asks of every server
        # (RFC 9110, 9.1); the body is dropped where it is sent (Flask, the Lambda adapter).
        operation: Operation = endpoint
        request.query_only(*operation.query_names)
        return operation, parameters

    def template(self, request: HttpRequest) -> str:
        """The route ``request`` takes, as its template (``/runs/{runId}``), for a span's name."""
        path = request.path.rstrip("/") or "/"
        try:
            endpoint, _ = self._urls.match(path, method=request.method)
        except (NoSuchPath, NoSuchMethod, RoutingException):
            return "an unknown route"
        operation: Operation = endpoint
        return operation.path

    def dispatch(self, request: HttpRequest, context: object) -> HttpResponse[Any]:
        operation, parameters = self.match(request)
        return operation.call(request, context, parameters)
