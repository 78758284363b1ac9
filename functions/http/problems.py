"""Every refusal and failure of the HTTP functions, as RFC 9457 problem details
(``application/problem+json``), built here and nowhere else: the document declares
``Problem`` as every 4xx's and 5xx's body, and the functions-framework and Lambda
adapters answer their own refusals with ``problem`` too.

A person reads ``detail`` (what was wrong, what to do); a program reads ``status`` and
``errors``: every problem a refused request has, each with where it is (``loc``).
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, NotRequired

from typing_extensions import TypedDict

from functions.errors import InvalidRequest, Location
from functions.http.web import HttpResponse, documented

MEDIA_TYPE = "application/problem+json"
# A refusal lists this many problems at most, each bounded: an answer costs what it shows,
# whatever a request holds (ten thousand bad ids, keys of a megabyte).
MAX_LISTED = 100
_MOST_SHOWN = 300


@documented
class ProblemItem(TypedDict):
    """One problem of a refused request."""

    loc: list[str | int]
    """where it is: body, query, path or header, then the names and indexes within it
    (empty: the request as a whole)"""
    detail: str
    """what is wrong there, what to send instead"""


@documented
class Problem(TypedDict):
    """Every refusal and failure: RFC 9457 problem details."""

    type: str
    """about:blank: the status says what kind of problem it is"""
    title: str
    """the status's phrase"""
    status: int
    """the HTTP status"""
    detail: str
    """what was wrong, what to do"""
    errors: NotRequired[list[ProblemItem]]
    """a refusal's problems, every one, each with where it is"""
    requiredRole: NotRequired[str]
    """a 403's: the least role the operation needs (viewer, operator, admin)"""
    role: NotRequired[str]
    """a 403's: the role the caller's token has"""


def problem(
    status: int,
    detail: str,
    headers: Mapping[str, str] | None = None,
    problems: tuple[tuple[Location, str], ...] = (),
) -> HttpResponse[Any]:
    """The answer of ``status`` saying ``detail``, listing ``problems`` if it has any."""
    body: Problem = {
        "type": "about:blank",
        "title": _phrase(status),
        "status": status,
        "detail": _bounded(detail),
    }
    if len(problems) > MAX_LISTED:
        body["detail"] = _bounded(f"{detail}; errors lists the first {MAX_LISTED}")
    if problems:
        body["errors"] = [
            {"loc": [_bounded(step) for step in loc], "detail": _bounded(text)}
            for loc, text in problems[:MAX_LISTED]
        ]
    return HttpResponse(status, body, {**(headers or {}), "Content-Type": MEDIA_TYPE})


def forbidden(
    detail: str, required_role: str, role: str, headers: Mapping[str, str]
) -> HttpResponse[Any]:
    """A 403: the caller is known, and its role does not allow the operation."""
    answer = problem(403, detail, headers)
    body: Problem = answer.body
    body["requiredRole"], body["role"] = required_role, role
    return answer


def refusal(exc: InvalidRequest) -> HttpResponse[Any]:
    """The 4xx ``exc`` says, with its every problem."""
    return problem(exc.status, str(exc), exc.headers, exc.problems)


def _bounded(step: Any) -> Any:
    if isinstance(step, str) and len(step) > _MOST_SHOWN:
        return step[:_MOST_SHOWN] + "..."
    return step


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
