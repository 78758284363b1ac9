"""Dispatch by route table: werkzeug's router matches the path and method, and each
refusal (404, 405, an unknown query parameter) names what the table offers."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from werkzeug.exceptions import MethodNotAllowed as NoSuchMethod
from werkzeug.exceptions import NotFound as NoSuchPath
from werkzeug.routing import Map, RoutingException, Rule

from functions import openapi
from functions.errors import MethodNotAllowed, NotFound
from functions.web import HttpRequest, HttpResponse, Route

_TEMPLATE_PARAMETER = re.compile(r"\{(\w+)\}")


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _rule(route: Route) -> Rule:
    path = _TEMPLATE_PARAMETER.sub(lambda m: f"<{_snake(m.group(1))}>", route.path)
    return Rule(path, endpoint=route, methods=[route.method])


class Router:
    def __init__(self, function: str, routes: Sequence[Route]) -> None:
        self.function = function
        self.routes = tuple(routes)
        # A doubled slash is a path no route has, not one to redirect to (werkzeug merges
        # them by default, answering 308 before auth, and the Lambda adapter has no redirect).
        rules = [_rule(route) for route in self.routes]
        self._urls = Map(rules, merge_slashes=False).bind("function")
        self._query = {
            route.operation_id: openapi.query_parameters(function, route.operation_id)
            for route in self.routes
        }
        self._public_paths = [
            re.compile("[^/]+".join(map(re.escape, _TEMPLATE_PARAMETER.split(route.path)[::2])))
            for route in self.routes
            if route.public
        ]
        self._offered = ", ".join(f"{r.method} {r.path}" for r in self.routes if not r.public)

    def is_public(self, path: str) -> bool:
        """Whether ``path`` is one of the routes anyone may call, whatever the method."""
        path = path.rstrip("/") or "/"
        return any(public.fullmatch(path) for public in self._public_paths)

    def match(self, request: HttpRequest) -> tuple[Route, Mapping[str, Any]]:
        # A trailing slash changes nothing: /runs/<id>/ is /runs/<id>.
        path = request.path.rstrip("/") or "/"
        try:
            if "//" in path:
                raise NoSuchPath()
            endpoint, parameters = self._urls.match(path, method=request.method)
        except (NoSuchPath, RoutingException):
            raise NotFound(
                f"no route for {request.method} {request.path}; {self.function} takes"
                f" {self._offered}"
            ) from None
        except NoSuchMethod as exc:
            allowed = tuple(m for m in exc.valid_methods or () if m != "HEAD")
            raise MethodNotAllowed(request.method, path, allowed) from None
        route: Route = endpoint
        if request.method != route.method:  # werkzeug lets HEAD through to a GET
            raise MethodNotAllowed(request.method, path, (route.method,))
        request.query_only(*self._query[route.operation_id])
        return route, parameters

    def template(self, request: HttpRequest) -> str:
        """The route ``request`` takes, as its template (``/runs/{runId}``), for a span's name."""
        path = request.path.rstrip("/") or "/"
        try:
            endpoint, _ = self._urls.match(path, method=request.method)
        except (NoSuchPath, NoSuchMethod, RoutingException):
            return "an unknown route"
        route: Route = endpoint
        return route.path

    def dispatch(self, request: HttpRequest, context: object) -> HttpResponse:
        route, parameters = self.match(request)
        return route.handle(request, context, **parameters)
