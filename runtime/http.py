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

from functions.coordinator import coordinator as start_billing_run
from functions.crm_api import crm_api
from functions.errors import BillingError, InvalidRequest, PublishFailed, StorageUnavailable
from functions.web import HttpRequest, HttpResponse
from runtime.config import Settings
from runtime.logs import configure_logging
from runtime.services import Services

log = logging.getLogger(__name__)

Handler = Callable[[HttpRequest, Services], HttpResponse]
FlaskResponse = tuple[str, int, dict[str, str]]

_services: Services | None = None
_services_lock = threading.Lock()


def services() -> Services:
    global _services
    with _services_lock:
        if _services is None:
            _services = Services(Settings.from_env())
        return _services


def _json(status: int, body: object) -> FlaskResponse:
    return json.dumps(body, ensure_ascii=False), status, {"Content-Type": "application/json"}


def http_target(role: str, handler: Handler) -> Callable[[flask.Request], FlaskResponse]:
    def target(request: flask.Request) -> FlaskResponse:
        typed = HttpRequest(
            method=request.method,
            path=request.path,
            query={key: request.args[key] for key in request.args},
            body=request.get_data(cache=False),
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
        return _json(response.status, response.body)

    target.__name__ = role
    return target


# Logging is set up on import, so the process logs from its first line on.
configure_logging(Settings.from_env().log_level, role="http")

coordinator = http_target(
    "coordinator", lambda request, svc: start_billing_run(request, svc.publisher.publish)
)
crm = http_target("crm", lambda request, svc: crm_api(request, svc.seeded_customers()))
