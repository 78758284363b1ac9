"""The functions-framework targets: each HTTP function bound to what it needs.

One target per process (``functions-framework --target coordinator``). Importing this
module reads nothing and sets nothing up: ``start`` reads the process's configuration and
sets up its logging, once (``main.py``, functions-framework's entry point, calls it).

Every target also answers ``GET /openapi.json`` (its OpenAPI 3 description) and
``GET /metrics`` (Prometheus); neither tells anything about customers, so neither
asks for a token. With ``BILLING_TOKEN`` set, everything else wants
``Authorization: Bearer <token>`` and answers 401 without it.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from typing import Any

import flask
from werkzeug.exceptions import HTTPException

from functions.http.problems import problem
from functions.http.web import MAX_BODY_BYTES, HttpRequest, HttpResponse
from runtime import tracing
from runtime.config import FunctionSettings
from runtime.http_function import HttpFunction
from runtime.logs import configure_logging
from runtime.services import Services

log = logging.getLogger(__name__)

FlaskResponse = tuple[str, int, dict[str, str]]


def _target_name(settings: FunctionSettings) -> str:
    """The ``--target`` this process serves, to name it in its log lines."""
    if "--target" in sys.argv[:-1]:
        return sys.argv[sys.argv.index("--target") + 1]
    return settings.function_target


_services: Services | None = None
_services_lock = threading.Lock()


def start() -> Services:
    """Read the environment and set up logging, once; a bad setting stops the process
    before it serves anything. The services' clients are built when first used."""
    global _services
    with _services_lock:
        if _services is None:
            settings = FunctionSettings.from_env()
            role = _target_name(settings)
            configure_logging(settings, role=role)
            tracing.configure(settings, role)
            log.info("%s: starting", role)
            _services = Services(settings, role=role)
        return _services


def services() -> Services:
    return _services or start()


def framework_error(exc: HTTPException) -> FlaskResponse:
    return _respond(problem(exc.code or 500, f"{exc.name}: {exc.description}"))


def _respond(response: HttpResponse[Any]) -> FlaskResponse:
    body, headers = response.rendered()
    return body, response.status, headers


def http_target(role: str) -> Callable[[flask.Request], FlaskResponse]:
    """The functions-framework target of ``role`` (see ``runtime/http_function.py``)."""
    function = HttpFunction(role, services)

    def target(request: flask.Request) -> FlaskResponse:
        head = HttpRequest(
            method=request.method,
            path=request.path,
            query={key: request.args[key] for key in request.args},
            headers={name.lower(): value for name, value in request.headers.items()},
        )
        # One byte over the limit is enough to refuse the body without reading it all.
        return _respond(function(head, lambda: request.stream.read(MAX_BODY_BYTES + 1)))

    target.__name__ = role
    return target


coordinator = http_target("coordinator")
crm = http_target("crm")
