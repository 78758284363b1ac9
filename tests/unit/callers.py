"""Callers of the guarded HTTP functions (the ``guarded`` fixture), as the tests of roles,
tokens and the audit make them: the environment's admin, a named token of a role, a page
of the audit, a run started, and a clock that moves a second each time it is read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.unit.harness import TOKEN, client

ADMIN = {"Authorization": f"Bearer {TOKEN}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token_of(name: str, role: str) -> dict[str, str]:
    """The headers of a named token of ``role``, made by the admin."""
    made = client("coordinator").post("/tokens", json={"name": name, "role": role}, headers=ADMIN)
    assert made.status_code == 201, made.get_json()
    return bearer(made.get_json()["token"])


def audit(query: str = "", headers: dict[str, str] = ADMIN) -> dict[str, Any]:
    """A page of ``GET /audit`` (``query``: from its ``?``)."""
    answer = client("coordinator").get(f"/audit{query}", headers=headers)
    assert answer.status_code == 200, answer.get_json()
    page: dict[str, Any] = answer.get_json()
    return page


def changed_by(records: list[dict[str, Any]], operation: str) -> list[str]:
    """Who made each change of ``operation`` the audit records: done, and not a repeat."""
    return [
        record["who"]
        for record in records
        if record["operation"] == operation
        and record["state"] == "done"
        and not record["outcome"]["replayed"]
    ]


def start(headers: dict[str, str], customers: tuple[str, ...] = ("1", "2")) -> Any:
    """``POST /`` of ``customers``, as the caller of ``headers``."""
    body = {"customerIdentifiers": list(customers)}
    return client("coordinator").post("/", json=body, headers=headers)


class Clock:
    """A UTC clock that moves a second each time it is read."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now
