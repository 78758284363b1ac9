"""The web console: a page, its scripts and a style sheet the coordinator's HTTP function
serves under ``/console/``. They hold no data, so they are served without the token; the
scripts ask the coordinator's and the CRM's APIs for everything they show, with the token
the person gives, as any client does.

No build step: the scripts are plain JavaScript modules the browser runs as they are
(``app.js`` imports the others: ``api.js`` the API client, ``runs.js``, ``customers.js``,
``start.js``, ``periods.js`` the pages, ``roles.js`` who the token names and what its role
may do, ``pages.js`` and ``elements.js`` what they share), so what is served is what is
reviewed, and `make install` needs no JavaScript toolchain. Every ``.js`` and ``.css`` file
of this folder is served, and nothing else.

The page carries what the scripts must know of the coordinator and do not ask it for:
where the CRM is, how many customers a run takes, and the pattern of a billing period (the
one the OpenAPI document gives, so the form's cue and the server agree).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import PurePosixPath
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field

from functions.errors import NotFound
from functions.http.operation import Operation, Parameters, Reply
from functions.http.web import HttpResponse
from functions.runs.status import MAX_RUN_SIZE
from functions.wire.billing_period import PERIOD_PATTERN

TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
PAGE_TYPE = "text/html; charset=utf-8"


@cache
def _file(name: str) -> str:
    return resources.files(__name__).joinpath(name).read_text("utf-8")


@cache
def assets() -> dict[str, str]:
    """The files the console serves besides its page, each with its content type."""
    found = (entry.name for entry in resources.files(__name__).iterdir() if entry.is_file())
    return {name: TYPES[PurePosixPath(name).suffix] for name in sorted(found) if _served(name)}


def _served(name: str) -> bool:
    return PurePosixPath(name).suffix in TYPES


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass(frozen=True)
class ConsoleSite:
    """The console's files; ``crm_url()`` is where its pages find the CRM."""

    crm_url: Callable[[], str]

    def _headers(self, content_type: str) -> dict[str, str]:
        # No inline script or style, nothing from another host but the CRM's API.
        policy = (
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
            f" connect-src 'self' {_origin(self.crm_url())}; base-uri 'none';"
            " form-action 'none'; frame-ancestors 'none'"
        )
        return {
            "Content-Type": content_type,
            "Content-Security-Policy": policy,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-cache",
        }

    def page(self, _context: object) -> HttpResponse[str]:
        crm = html.escape(self.crm_url().rstrip("/"), quote=True)
        body = (
            _file("index.html")
            .replace("{{crm_url}}", crm)
            .replace("{{max_customers_per_run}}", str(MAX_RUN_SIZE))
            .replace("{{billing_period_pattern}}", html.escape(PERIOD_PATTERN, quote=True))
        )
        return HttpResponse(200, body, self._headers(PAGE_TYPE))

    def asset(self, _context: object, path: AssetPath) -> HttpResponse[str]:
        served = assets()
        if path.asset not in served:
            raise NotFound(f"the console has no file {path.asset!r}; it has {', '.join(served)}")
        return HttpResponse(200, _file(path.asset), self._headers(served[path.asset]))

    def operations(self) -> tuple[Operation, ...]:
        return (
            Operation(
                "GET",
                "/console",
                "getConsole",
                "The web console's page (the coordinator's); its data comes from the API",
                self.page,
                {200: Reply("HTML", None, media_type="text/html")},
                public=True,
            ),
            Operation(
                "GET",
                "/console/{asset}",
                "getConsoleAsset",
                "A script or style sheet of the web console",
                self.asset,
                {
                    200: Reply("the file", None, media_type="text/javascript"),
                    404: Reply("the console has no such file"),
                },
                path_parameters=AssetPath,
                public=True,
            ),
        )


class AssetPath(Parameters):
    asset: Annotated[str, Field(examples=["app.js"])]
    """a file of the console: a .js or .css"""
