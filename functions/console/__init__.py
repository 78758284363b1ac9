"""The web console: a page, a script and a style sheet the coordinator's HTTP function
serves under ``/console/``. They hold no data, so they are served without the token; the
script asks the coordinator's and the CRM's APIs for everything it shows, with the token
the person gives, as any client does.

No build step: the script is plain JavaScript the browser runs as it is, so what is
served is what is reviewed, and `make install` needs no JavaScript toolchain.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from urllib.parse import urlsplit

from functions.errors import NotFound
from functions.web import HttpRequest, HttpResponse, Route

ASSET_TYPES = {
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}
PAGE_TYPE = "text/html; charset=utf-8"


@cache
def _file(name: str) -> str:
    return resources.files(__name__).joinpath(name).read_text("utf-8")


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

    def page(self, _request: HttpRequest, _context: object) -> HttpResponse:
        crm = html.escape(self.crm_url().rstrip("/"), quote=True)
        body = _file("index.html").replace("{{crm_url}}", crm)
        return HttpResponse(200, body, self._headers(PAGE_TYPE))

    def asset(self, _request: HttpRequest, _context: object, asset: str) -> HttpResponse:
        if asset not in ASSET_TYPES:
            raise NotFound(f"the console has no file {asset!r}; it has {', '.join(ASSET_TYPES)}")
        return HttpResponse(200, _file(asset), self._headers(ASSET_TYPES[asset]))

    def routes(self) -> tuple[Route, ...]:
        return (
            Route("GET", "/console", "getConsole", self.page, public=True),
            Route("GET", "/console/{asset}", "getConsoleAsset", self.asset, public=True),
        )
