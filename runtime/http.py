"""The functions-framework targets: each HTTP function bound to what it needs.

One target per process (``functions-framework --target coordinator``). The process
builds its configuration, clients and stores once, on the first request.

Every target also answers ``GET /openapi.json`` (its OpenAPI 3 description) and
``GET /metrics`` (Prometheus); neither tells anything about customers, so neither
asks for a token. With ``BILLING_TOKEN`` set, everything else wants
``Authorization: Bearer <token>`` and answers 401 without it.
"""

from __future__ import annotations

import hmac
import json
import logging
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace

import flask
from werkzeug.exceptions import HTTPException

import functions.coordinator
import functions.crm_api
from functions import openapi
from functions.coordinator import Coordination
from functions.errors import BillingError, InvalidRequest, PublishFailed, StorageUnavailable
from functions.web import MAX_BODY_BYTES, HttpRequest, HttpResponse, Route
from runtime.config import Settings
from runtime.logs import configure_logging
from runtime.metrics import EXPOSITION_TYPE, exposition
from runtime.routing import Router
from runtime.services import Services

log = logging.getLogger(__name__)

FlaskResponse = tuple[str, int, dict[str, str]]
_JSON = {"Content-Type": "application/json"}


def _target_name() -> str:
    """The ``--target`` this process serves, to name it in its log lines."""
    if "--target" in sys.argv[:-1]:
        return sys.argv[sys.argv.index("--target") + 1]
    return SETTINGS.function_target


# The process's one configuration, read on import, so it logs from its first line on.
SETTINGS = Settings.from_env()
configure_logging(SETTINGS, role=_target_name())

_services: Services | None = None
_services_lock = threading.Lock()


def services() -> Services:
    global _services
    with _services_lock:
        if _services is None:
            _services = Services(SETTINGS)
        return _services


def _json(status: int, body: object, headers: dict[str, str] | None = None) -> FlaskResponse:
    return json.dumps(body, ensure_ascii=False), status, {**_JSON, **(headers or {})}


def framework_error(exc: HTTPException) -> FlaskResponse:
    return _json(exc.code or 500, {"error": f"{exc.name}: {exc.description}"})


def _unauthorized(request: flask.Request, token: str) -> FlaskResponse | None:
    """A 401 unless the request bears ``token``; the token is never logged nor echoed."""
    scheme, _, offered = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(offered.strip().encode(), token.encode()):
        return None
    problem = "invalid_token" if scheme.lower() == "bearer" else "invalid_request"
    detail = "was not accepted" if problem == "invalid_token" else "is missing"
    return _json(
        401,
        {"error": f"the bearer token {detail}; send `Authorization: Bearer <BILLING_TOKEN>`"},
        {"WWW-Authenticate": f'Bearer realm="billing", error="{problem}"'},
    )


def _respond(response: HttpResponse) -> FlaskResponse:
    headers = dict(response.headers)
    if isinstance(response.body, str) and "Content-Type" in headers:
        return response.body, response.status, headers  # text, such as /metrics
    return _json(response.status, response.body, headers)


def http_target(
    role: str, routes: Sequence[Route], context: Callable[[Services], object]
) -> Callable[[flask.Request], FlaskResponse]:
    """The functions-framework target of ``role``: its routes, with ``context(services)``
    for their handlers, and the two public routes every function has."""

    def describe(_request: HttpRequest, _context: object) -> HttpResponse:
        return HttpResponse(200, description)

    def metrics(_request: HttpRequest, _context: object) -> HttpResponse:
        return HttpResponse(200, exposition().decode(), {"Content-Type": EXPOSITION_TYPE})

    router = Router(
        role,
        [
            *routes,
            Route("GET", "/openapi.json", "getOpenApi", describe, public=True),
            Route("GET", "/metrics", "getMetrics", metrics, public=True),
        ],
    )
    description = openapi.document(role, router.routes)

    def target(request: flask.Request) -> FlaskResponse:
        head = HttpRequest(
            method=request.method,
            path=request.path,
            query={key: request.args[key] for key in request.args},
            headers={name.lower(): value for name, value in request.headers.items()},
        )
        try:
            route, parameters = router.match(head)
            refusal = None
        except InvalidRequest as exc:
            route, parameters, refusal = None, {}, exc
        token = services().settings.auth_token
        guarded = not router.is_public(head.path)
        if guarded and token is not None and (denied := _unauthorized(request, token)):
            return denied  # before telling whether the path exists
        if route is None:
            assert refusal is not None
            return _json(refusal.status, {"error": str(refusal)}, refusal.headers)
        # One byte over the limit is enough to refuse the body without reading it all.
        typed = replace(head, body=request.stream.read(MAX_BODY_BYTES + 1))
        try:
            handled = route.handle(
                typed, None if route.public else context(services()), **parameters
            )
        except InvalidRequest as exc:
            return _json(exc.status, {"error": str(exc)}, exc.headers)
        except (PublishFailed, StorageUnavailable) as exc:
            log.error("%s %s: %s", request.method, request.path, exc)
            return _json(503, {"error": str(exc)})
        except BillingError as exc:
            log.error("%s %s: %s", request.method, request.path, exc)
            return _json(500, {"error": str(exc)})
        except Exception:
            log.exception("%s %s failed", request.method, request.path)
            return _json(500, {"error": f"internal error in {role}; see its log"})
        return _respond(handled)

    target.__name__ = role
    return target


coordinator = http_target(
    "coordinator",
    functions.coordinator.ROUTES,
    lambda svc: Coordination(svc.publisher.publish, svc.runs, svc.context.jobs, svc.context.bills),
)
crm = http_target("crm", functions.crm_api.ROUTES, lambda svc: svc.seeded_customers())
