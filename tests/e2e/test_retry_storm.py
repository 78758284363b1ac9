"""An impatient operator on the real stack: a run cancelled early, then retried every half
second while the cancel settles, and once more after. No customer is billed twice, and
every customer ends with one bill."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
import requests

from functions.storage import keys
from functions.storage.bucket import Bucket
from functions.wire.messages import Customer
from runtime.config import StackSettings
from runtime.services import Services, s3_client
from tests.helpers.cli import TOKEN
from tests.helpers.processes import Processes, start_http_function
from tests.helpers.waiting import wait_for

CUSTOMERS = 600
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.mark.slow
def test_retries_asked_while_a_cancel_settles_bill_no_one_twice(
    settings: StackSettings, processes: Processes
) -> None:
    guarded = replace(settings, auth_token=TOKEN)
    customers = [
        Customer(str(n), f"First{n}", f"Last{n}", "Utrecht", str(5000 + n), "1")
        for n in range(1, CUSTOMERS + 1)
    ]
    Services(settings).context.customers.put_all(customers)
    coordinator, _ = start_http_function(processes, guarded, "coordinator")
    processes.runtime("all", guarded)
    started = requests.post(
        coordinator,
        json={"customerIdentifiers": [c.customer_id for c in customers]},
        headers=BEARER,
        timeout=60,
    )
    assert started.status_code == 202, started.text
    run_id = started.json()["runId"]
    bills = Bucket(s3_client(settings), settings.bills_bucket)
    # The cancel comes while the run is well under way (the operator's 1.5 s).
    wait_for("the first bills", lambda: len(list(bills.names(f"{run_id}/"))) >= 30, 120)
    cancelled = requests.post(f"{coordinator}runs/{run_id}/cancel", headers=BEARER, timeout=60)
    assert cancelled.status_code == 202, cancelled.text

    retries: list[dict[str, Any]] = []
    clicked_until = time.monotonic() + 8
    while time.monotonic() < clicked_until:  # the operator's clicks, not a wait
        retries.append(retry(coordinator, run_id))
        time.sleep(0.5)
    wait_for("the run settled", settling(coordinator, run_id), 300)
    retries.append(retry(coordinator, run_id))  # and once more, after
    lineage = {run_id} | {r["runId"] for r in retries if r["status"] == 202}
    for each in sorted(lineage):
        wait_for(f"run {each} settled", settling(coordinator, each), 300)

    answered = Counter(r["status"] for r in retries)
    assert set(answered) <= {202, 409}, retries
    held = Counter(
        customer
        for retry_id in lineage - {run_id}
        for customer in status(coordinator, retry_id)["customers"]
    )
    assert max(held.values(), default=1) == 1, "a customer held by two retries"
    # Every bill of the lineage, wherever a run wrote it, by the workflow that wrote it.
    billed = Counter(
        keys.customer_of_bill(name) or "?"
        for name in bills.names()
        if (bills.metadata(name) or {}).get("workflow-id", "").rsplit("-", 1)[0] in lineage
    )
    assert [c for c, n in billed.items() if n > 1] == [], "a customer billed twice"
    assert sorted(billed, key=int) == [c.customer_id for c in customers], "one bill each"
    print(f"{len(lineage) - 1} retries of {answered[202]} answered 202, {answered[409]} 409")


def retry(coordinator: str, run_id: str) -> dict[str, Any]:
    answer = requests.post(f"{coordinator}runs/{run_id}/retry", headers=BEARER, timeout=60)
    body: dict[str, Any] = answer.json()
    return {"status": answer.status_code, **body}


def status(coordinator: str, run_id: str) -> dict[str, Any]:
    customers: list[str] = []
    after = 0
    while True:
        page = requests.get(
            f"{coordinator}runs/{run_id}?after={after}", headers=BEARER, timeout=60
        ).json()
        customers += [c["customerIdentifier"] for c in page["customers"]]
        if page.get("next") is None:
            return {**page, "customers": customers}
        after = page["next"]


def settling(coordinator: str, run_id: str) -> Callable[[], bool]:
    return lambda: settled(coordinator, run_id)


def settled(coordinator: str, run_id: str) -> bool:
    answer = requests.get(f"{coordinator}runs/{run_id}?customers=false", headers=BEARER, timeout=60)
    body: dict[str, Any] = answer.json()
    return bool(body["counts"]["pending"] == 0 and body["published"])
