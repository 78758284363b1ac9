"""What the CLI talks to: the coordinator and the CRM over HTTP, the bills in S3.

Each failure becomes a ``CliError`` with one line saying what is wrong and what to do.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from functools import cached_property
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from functions.errors import BillingError, StorageUnavailable
from functions.runs.status import MAX_RUN_SIZE
from functions.storage import StoredBill
from runtime.config import ClientSettings

if TYPE_CHECKING:
    from functions.storage.s3 import S3BillStore

START_STACK = "is the stack up? `make up` starts it, `make status` tells"


class CliError(BillingError):
    """Said in one line, and the command exits with 2. ``status``: the HTTP status a
    service answered, if that is what went wrong."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Api:
    def __init__(self, settings: ClientSettings) -> None:
        self.settings = settings

    def _call(
        self, service: str, base: str, path: str, body: Any = None, timeout_s: float = 120
    ) -> Any:
        return self._exchange(service, base, path, body, timeout_s)[0]

    def _exchange(
        self, service: str, base: str, path: str, body: Any = None, timeout_s: float = 120
    ) -> tuple[Any, str | None]:
        """The answer's JSON, and the path of the next page if its ``Link`` names one."""
        answer, headers = self._request(service, base, path, body, timeout_s=timeout_s)
        return answer, next_page(headers.get("link", ""))

    def _request(
        self,
        service: str,
        base: str,
        path: str,
        body: Any = None,
        extra_headers: Mapping[str, str] | None = None,
        timeout_s: float = 120,
    ) -> tuple[Any, Mapping[str, str]]:
        """The answer's JSON and headers (their names in lower case); any status of 400 or
        more is a ``CliError``."""
        headers = {"Accept": "application/json", **(extra_headers or {})}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.settings.token:
            headers["Authorization"] = f"Bearer {self.settings.token}"
        try:
            status, answered, content = self._transport(
                base.rstrip("/") + path, data, headers, timeout_s
            )
        except (urllib.error.URLError, OSError) as exc:
            cause = getattr(exc, "reason", exc)
            raise CliError(
                f"cannot reach the {service} at {base} ({cause}); {START_STACK}"
            ) from None
        if status >= 400:
            reason = f"{_reason(content, status)}{_hint(status)}"
            raise CliError(f"the {service} answered {status}: {reason}", status)
        return json.loads(content), answered

    def _transport(
        self, url: str, data: bytes | None, headers: dict[str, str], timeout_s: float
    ) -> tuple[int, Mapping[str, str], bytes]:
        """One HTTP exchange: the status, headers (``named_headers``) and body answered (the unit
        tests put the HTTP functions' test clients here)."""
        request = urllib.request.Request(url, data=data, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                return response.status, named_headers(response.headers.items()), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, named_headers(exc.headers.items()), exc.read()

    def start_run(self, customer_ids: list[str]) -> dict[str, Any]:
        """The coordinator's 202 for a run of ``customer_ids``, no period, no key."""
        return self.start_keyed_run(customer_ids)[0]

    def start_keyed_run(
        self, customer_ids: list[str], billing_period: str | None = None, key: str | None = None
    ) -> tuple[dict[str, Any], bool]:
        """The coordinator's 202 for a run of ``customer_ids`` (of ``billing_period``, if
        given), and whether it answered with the run an earlier request of ``key`` started."""
        body: dict[str, Any] = {"customerIdentifiers": customer_ids}
        if billing_period is not None:
            body["billingPeriod"] = billing_period
        headers = {"Idempotency-Key": key} if key is not None else {}
        answer, answered = self._request(
            "coordinator", self.settings.coordinator_address, "/", body, headers
        )
        return answer, answered.get("idempotent-replayed") == "true"

    def run_status(
        self, run_id: str, state: str | None = None, customers: bool = True
    ) -> dict[str, Any]:
        """A run's status; with ``customers``, every one of them in one page: each page
        costs the run's whole status on the server, and a run holds at most MAX_RUN_SIZE."""
        query = {"state": state} if state else {}
        if customers:
            query["limit"] = str(MAX_RUN_SIZE)
        else:
            query["customers"] = "false"
        path = f"/runs/{urllib.parse.quote(run_id, safe='')}"
        answer: dict[str, Any] = self._call(
            "coordinator", self.settings.coordinator_address, _with(path, query)
        )
        return answer

    def runs(
        self, after: str | None = None, limit: int | None = None, **filters: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """A page of runs, newest first, and the cursor of the next page (None on the last)."""
        return self._newest_first("/runs", "runs", {"after": after, "limit": limit, **filters})

    def audit(
        self, after: str | None = None, limit: int | None = None, **filters: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """A page of the audit trail, newest first, and the cursor of the next page."""
        given = {"after": after, "limit": limit, **filters}
        return self._newest_first("/audit", "records", given)

    def _newest_first(
        self, path: str, items: str, given: dict[str, Any]
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the coordinator's listing at ``path``: its ``items``, and its cursor."""
        query = {key: str(value) for key, value in given.items() if value is not None}
        answer = self._call("coordinator", self.settings.coordinator_address, _with(path, query))
        return list(answer[items]), answer["next"]

    def retry_run(self, run_id: str) -> dict[str, Any]:
        return self._run_action(run_id, "retry")

    def cancel_run(self, run_id: str) -> dict[str, Any]:
        return self._run_action(run_id, "cancel")

    def _run_action(self, run_id: str, action: str) -> dict[str, Any]:
        path = f"/runs/{urllib.parse.quote(run_id, safe='')}/{action}"
        answer: dict[str, Any] = self._call(
            "coordinator", self.settings.coordinator_address, path, {}
        )
        return answer

    def create_token(self, name: str, role: str) -> dict[str, Any]:
        """The coordinator's 201 for a new named token: its record, and the token, once."""
        body = {"name": name, "role": role}
        answer: dict[str, Any] = self._call(
            "coordinator", self.settings.coordinator_address, "/tokens", body
        )
        return answer

    def token_pages(self, limit: int | None = None) -> Iterator[list[dict[str, Any]]]:
        """The named tokens (never a token nor its digest), a page at a time."""
        query = {"limit": str(limit)} if limit else {}
        next_path: str | None = _with("/tokens", query)
        while next_path is not None:
            page, next_path = self._exchange(
                "coordinator", self.settings.coordinator_address, next_path
            )
            yield list(page["tokens"])

    def revoke_token(self, name: str) -> dict[str, Any]:
        path = f"/tokens/{urllib.parse.quote(name, safe='')}/revoke"
        answer: dict[str, Any] = self._call(
            "coordinator", self.settings.coordinator_address, path, {}
        )
        return answer

    def period_pages(
        self, period: str, limit: int | None, after: str | None, state: str | None
    ) -> Iterator[dict[str, Any]]:
        """A billing period's books, a page at a time (the first with the totals), each page
        as the coordinator answers it (``next``: its cursor, None on the last)."""
        given = {"after": after, "limit": limit, "state": state, "totals": "true"}
        query = {key: str(value) for key, value in given.items() if value is not None}
        next_path: str | None = _with(f"/periods/{urllib.parse.quote(period, safe='')}", query)
        while next_path is not None:
            page, next_path = self._exchange(
                "coordinator", self.settings.coordinator_address, next_path
            )
            yield page

    def create_customer(self, fields: dict[str, str]) -> dict[str, str]:
        answer: dict[str, str] = self._call("CRM", self.settings.crm_address, "/customers", fields)
        return answer

    def customer_pages(
        self, limit: int | None = None, after: str | None = None
    ) -> Iterator[tuple[list[dict[str, str]], bool]]:
        """The CRM's customers in id order, a page at a time, each with whether more follow."""
        yield from self._pages("/", limit, after)

    def customer_id_pages(self) -> Iterator[list[str]]:
        """Every customer id, in pages of the CRM's default size (one S3 listing each)."""
        for page, _ in self._pages("/customer-ids", None, None):
            yield page

    def _pages(self, path: str, limit: int | None, after: str | None) -> Iterator[tuple[Any, bool]]:
        query = {key: str(value) for key, value in (("after", after), ("limit", limit)) if value}
        next_path: str | None = path + ("?" + urllib.parse.urlencode(query) if query else "")
        while next_path is not None:
            page, next_path = self._exchange("CRM", self.settings.crm_address, next_path)
            yield page, next_path is not None

    def import_customers(self, customers: list[dict[str, str]]) -> list[dict[str, str]]:
        answer: list[dict[str, str]] = self._call(
            "CRM", self.settings.crm_address, "/customers", customers
        )
        return answer

    @cached_property
    def _bills(self) -> S3BillStore:
        # boto3 takes longer to import than the rest of the CLI: only for the bills.
        from functions.storage.bucket import Bucket
        from functions.storage.s3 import S3BillStore
        from runtime.services import s3_client

        return S3BillStore(Bucket(s3_client(self.settings), self.settings.bills_bucket))

    def bills(self, prefix: str = "") -> Iterator[StoredBill]:
        try:
            yield from self._bills.listing(prefix)
        except StorageUnavailable as exc:
            raise CliError(_storage(exc)) from None

    def bill_writer(self, name: str) -> str | None:
        """The workflow that wrote the bill (its metadata), or None."""
        try:
            return self._bills.writer(name)
        except StorageUnavailable as exc:
            raise CliError(_storage(exc)) from None

    def bill_text(self, name: str) -> str | None:
        try:
            return self._bills.text(name)
        except StorageUnavailable as exc:
            raise CliError(_storage(exc)) from None


_NEXT = re.compile(r'<([^>]*)>\s*;\s*rel="?next"?')


def next_page(link: str) -> str | None:
    """The target of ``rel="next"`` in an RFC 8288 ``Link`` header, if there is one."""
    found = _NEXT.search(link)
    return found.group(1) if found else None


def named_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Headers by their names in lower case: HTTP's names are case-insensitive."""
    return {name.lower(): value for name, value in headers}


def _reason(content: bytes, status: int) -> str:
    """What a refusal says: its problem's ``detail`` (an earlier version's ``error``)."""
    try:
        answer = json.loads(content)
        return str(answer["detail"] if "detail" in answer else answer["error"])
    except (ValueError, KeyError, TypeError):
        known = {member.value: member.phrase for member in HTTPStatus}
        return known.get(status, "no reason given")


def _hint(status: int) -> str:
    if status == 401:
        return (
            " (set BILLING_TOKEN to a named token, `billing tokens add`, or to the token the"
            " stack was started with)"
        )
    return ""


def _storage(exc: StorageUnavailable) -> str:
    return f"S3 is unavailable: {str(exc).splitlines()[0]}"


def _with(path: str, query: dict[str, str]) -> str:
    return path + ("?" + urllib.parse.urlencode(query) if query else "")
