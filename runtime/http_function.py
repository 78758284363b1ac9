"""One HTTP function, free of any framework: its route table, the two public routes every
function has, who may call what, and every refusal and error as an ``HttpResponse``.

functions-framework (``runtime/http.py``) and AWS Lambda (``runtime/aws_lambda/http.py``)
both hand it an ``HttpRequest`` and send back what it answers, so a request is treated the
same on either: its bearer token checked (``runtime/auth.py``: 401 without a caller), then
the role its operation declares (403 below it), and only then its body read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import cached_property
from typing import Any

import functions.audit.api
import functions.crm.api
import functions.runs.coordinator
import functions.tokens.api
from functions.access import ANYBODY, Caller
from functions.console import ConsoleSite
from functions.errors import (
    BillingError,
    InvalidRequest,
    IssuerUnavailable,
    PublishFailed,
    StorageUnavailable,
)
from functions.http import openapi
from functions.http.operation import Api, Operation, Reply
from functions.http.problems import problem, refusal
from functions.http.web import HttpRequest, HttpResponse
from runtime import tracing
from runtime.auth import Unauthenticated, unauthorized, unchecked
from runtime.auth import refused as refused_by_role
from runtime.metrics import EXPOSITION_TYPE, exposition
from runtime.routing import Router
from runtime.services import Services

log = logging.getLogger(__name__)

Lazy = Callable[[], Services]
# A part of an HTTP function: its operations, and what their handlers are given.
Part = tuple[Callable[[Lazy], Api], Callable[[Services], object]]


def _console(services: Lazy) -> Api:
    """The console the coordinator serves (which finds the CRM as set)."""
    console = ConsoleSite(lambda: services().settings.console_crm_address)
    return Api("Console", "The web console's files.", list(console.operations()))


# Each HTTP function: its parts, the first naming it in its document.
APIS: Mapping[str, tuple[Part, ...]] = {
    "coordinator": (
        (lambda _services: functions.runs.coordinator.API, lambda svc: svc.coordination),
        (_console, lambda _svc: None),
        (lambda _services: functions.tokens.api.API, lambda svc: svc.token_admin),
        (lambda _services: functions.audit.api.API, lambda svc: svc.audit_log),
    ),
    "crm": ((lambda _services: functions.crm.api.API, lambda svc: svc.seeded_customers()),),
}


_PREFLIGHT = {
    "Access-Control-Allow-Methods": "GET, POST",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, Idempotency-Key",
    "Access-Control-Max-Age": "600",
}


def _cors(origin: str) -> dict[str, str]:
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Expose-Headers": "Link, X-Request-Id",
        "Vary": "Origin",
    }


class HttpFunction:
    """``role``'s routes served with ``services()``, which is called only when needed."""

    def __init__(self, role: str, services: Callable[[], Services]) -> None:
        self.role = role
        self._services = services
        parts = [(api_of(services), context) for api_of, context in APIS[role]]
        # What each operation's handler is given, built from the services when called.
        self._contexts: dict[Operation, Callable[[Services], object]] = {
            operation: context for api, context in parts for operation in api.operations
        }
        first = parts[0][0]
        api = first.with_operations(
            *(op for api, _ in parts[1:] for op in api.operations), *self._own_operations()
        )
        self.router = Router(role, api.operations)
        self.api = api

    @cached_property
    def description(self) -> dict[str, Any]:
        """The OpenAPI document, made when first asked for: a process that is never asked
        starts a tenth of a second sooner."""
        return openapi.document(self.api)

    def _own_operations(self) -> tuple[Operation, ...]:
        """What every HTTP function answers besides its API: its document, its metrics."""
        return (
            Operation(
                "GET",
                "/openapi.json",
                "getOpenApi",
                "This description",
                self._describe,
                {200: Reply("the OpenAPI document", {"type": "object"})},
                public=True,
            ),
            Operation(
                "GET",
                "/metrics",
                "getMetrics",
                "Prometheus metrics",
                self._metrics,
                {200: Reply("the text exposition format", {"type": "string"}, "text/plain")},
                public=True,
            ),
        )

    def _describe(self, _context: object) -> HttpResponse[Any]:
        return HttpResponse(200, self.description)

    def _metrics(self, _context: object) -> HttpResponse[str]:
        return HttpResponse(200, exposition().decode(), {"Content-Type": EXPOSITION_TYPE})

    def __call__(self, head: HttpRequest, read_body: Callable[[], bytes]) -> HttpResponse[Any]:
        """Answer ``head``; its body is read (``read_body()``) only once it is let in."""
        if not tracing.enabled():
            return self._open_to_console(head, read_body)
        with tracing.serving(head.method, self.router.template(head), head.headers) as span:
            response = self._open_to_console(head, read_body)
            if span is not None:
                span.set_attribute("http.response.status_code", response.status)
            return response

    def _open_to_console(
        self, head: HttpRequest, read_body: Callable[[], bytes]
    ) -> HttpResponse[Any]:
        """A browser on a console's origin (``CONSOLE_ORIGINS``) may read every answer, the
        refusals too: CORS, with the same token and refusals as any client."""
        origin = head.headers.get("origin", "")
        if not origin or origin not in self._services().settings.console_allowed_origins:
            return self._answer(head, read_body)
        if head.method == "OPTIONS" and "access-control-request-method" in head.headers:
            return HttpResponse(
                204, "", {"Content-Type": "text/plain", **_PREFLIGHT, **_cors(origin)}
            )
        response = self._answer(head, read_body)
        return replace(response, headers={**response.headers, **_cors(origin)})

    def _answer(self, head: HttpRequest, read_body: Callable[[], bytes]) -> HttpResponse[Any]:
        route: Operation | None
        try:
            route, parameters = self.router.match(head)
            refused = None
        except InvalidRequest as exc:
            route, parameters, refused = None, {}, exc
        caller = ANYBODY
        # A public path is one anyone may call, whatever the method; an operation that is
        # not public wants its token wherever its path is.
        if not self.router.is_public(head.path) or (route is not None and not route.public):
            try:  # before telling whether the path exists
                caller = self._services().authenticator.caller(head.headers)
            except Unauthenticated as exc:
                return unauthorized(exc)
            except (StorageUnavailable, IssuerUnavailable) as exc:
                log.error("%s %s: the token cannot be checked: %s", head.method, head.path, exc)
                return unchecked(exc)
        if route is None:
            assert refused is not None
            return refusal(refused)
        forbidden = refused_by_role(caller, route)  # before reading the body
        auditor = self._services().auditor if route.changes_state else None
        if auditor is None:
            return forbidden or self._call(route, head, read_body, parameters, caller)
        entry = auditor.entry(caller, route, head, parameters)
        if forbidden is not None:
            return auditor.refused(entry, forbidden)
        if (unrecorded := auditor.begin(entry)) is not None:
            return unrecorded  # nothing is done unrecorded
        return auditor.end(entry, self._call(route, head, read_body, parameters, caller))

    def _call(
        self,
        route: Operation,
        head: HttpRequest,
        read_body: Callable[[], bytes],
        parameters: Mapping[str, str],
        caller: Caller,
    ) -> HttpResponse[Any]:
        try:  # the body too: a client gone mid-body is answered (and audited) as any error
            request = replace(head, body=read_body())
            context = None if route.public else self._contexts[route](self._services())
            return route.call(request, context, parameters, caller)
        except InvalidRequest as exc:
            return refusal(exc)
        except (PublishFailed, StorageUnavailable) as exc:
            log.error("%s %s: %s", head.method, head.path, exc)
            return problem(503, str(exc))
        except BillingError as exc:
            log.error("%s %s: %s", head.method, head.path, exc)
            return problem(500, str(exc))
        except Exception:
            log.exception("%s %s failed", head.method, head.path)
            return problem(500, f"internal error in {self.role}; see its log")
