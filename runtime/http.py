"""The functions-framework targets: each HTTP function bound to what it needs.

One target per process (``functions-framework --target coordinator``). The process
builds its configuration, clients and stores once, on the first request.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable

import flask
from werkzeug.exceptions import HTTPException

from functions.coordinator import coordinator as start_billing_run
from functions.crm_api import crm_api
from functions.errors import BillingError, InvalidRequest, PublishFailed, StorageUnavailable
from functions.web import MAX_BODY_BYTES, HttpRequest, HttpResponse
from runtime.config import Settings
from runtime.logs import configure_logging
from runtime.metrics import EXPOSITION_TYPE, exposition
from runtime.services import Services

log = logging.getLogger(__name__)

Handler = Callable[[HttpRequest, Services], HttpResponse]
FlaskResponse = tuple[str, int, dict[str, str]]
_JSON = {"Content-Type": "application/json"}

_services: Services | None = None
_services_lock = threading.Lock()


def services() -> Services:
    global _services
    with _services_lock:
        if _services is None:
            _services = Services(Settings.from_env())
        return _services


def _json(status: int, body: object, headers: dict[str, str] | None = None) -> FlaskResponse:
    return json.dumps(body, ensure_ascii=False), status, {**_JSON, **(headers or {})}


def framework_error(exc: HTTPException) -> FlaskResponse:
    return _json(exc.code or 500, {"error": f"{exc.name}: {exc.description}"})


def http_target(role: str, handler: Handler) -> Callable[[flask.Request], FlaskResponse]:
    def target(request: flask.Request) -> FlaskResponse:
        if request.method == "GET" and request.path == "/metrics":
            return exposition().decode(), 200, {"Content-Type": EXPOSITION_TYPE}
        typed = HttpRequest(
            method=request.method,
            path=request.path,
            query={key: request.args[key] for key in request.args},
            # One byte over the limit is enough to refuse the body without reading it all.
            body=request.stream.read(MAX_BODY_BYTES + 1),
            headers={name.lower(): value for name, value in request.headers.items()},
        )
        try:
            response = handler(typed, services())
        except InvalidRequest as exc:
            return _json(exc.status, {"error": str(exc)})
        except (PublishFailed, StorageUnavailable) as exc:
            log.error("%s %s: %s", request.method, request.path, exc)
            return _json(503, {"error": str(exc)})
        except BillingError as exc:
            log.error("%s %s: %s", request.method, request.path, exc)
            return _json(500, {"error": str(exc)})
        except Exception:
            log.exception("%s %s failed", request.method, request.path)
            return _json(500, {"error": f"internal error in {role}; see its log"})
        return _json(response.status, response.body, dict(response.headers))

    target.__name__ = role
    return target


# Logging is set up on import, so the process logs from its first line on.
configure_logging(Settings.from_env().log_level, role="http")

coordinator = http_target(
    "coordinator",
    lambda request, svc: start_billing_run(request, svc.publisher.publish, svc.runs),
)
crm = http_target("crm", lambda request, svc: crm_api(request, svc.seeded_customers()))
