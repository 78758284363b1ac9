"""Crashes and a lost broker, with every function in its own process as users start them."""

from __future__ import annotations

import json
import random
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
import requests

from functions.runs import status
from runtime.config import StackSettings
from tests.helpers.faults import Cluster
from tests.helpers.kafka import topic_records
from tests.helpers.processes import Process, Processes, start_http_function
from tests.helpers.stores import assert_billed_exactly_once, bill_names, closed, seed_customers
from tests.helpers.waiting import wait_for

KAFKA_TRIGGERED = ("engine-start", "crm-answer", "engine-complete")


def post_run(url: str, customers: list[str], key: str | None = None) -> requests.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return requests.post(url, json={"customerIdentifiers": customers}, headers=headers, timeout=60)


def expected_bills(response: requests.Response) -> list[str]:
    return sorted(status.bill_names(response.json()))


def test_with_the_broker_down_the_coordinator_answers_503_and_publishes_nothing(
    own_cluster: Callable[[int], tuple[Cluster, StackSettings]], processes: Processes
) -> None:
    cluster, settings = own_cluster(1)
    settings = replace(settings, publish_timeout_s=3)
    coordinator, _ = start_http_function(processes, settings, "coordinator")
    # The producer is connected once a run is accepted; on a loaded machine its first
    # connection can outlast the 3 s timeout (a 503 that publishes nothing): ask again.
    wait_for(
        "the producer connected",
        lambda: post_run(coordinator, ["1"], key="first").status_code == 202,
        timeout_s=60,
    )

    cluster.kill(1)
    refused = post_run(coordinator, ["2", "3"], key="while-down")
    assert refused.status_code == 503
    assert "none was published" in refused.json()["detail"]

    cluster.start(1)
    wait_for("the broker back", lambda: cluster.serving(), timeout_s=120)
    retried = wait_for(
        "the retry accepted",
        lambda: ((r := post_run(coordinator, ["2", "3"], key="while-down")).ok and r) or None,
        timeout_s=60,
    )
    assert retried.status_code == 202
    published = [json.loads(r.value()) for r in topic_records(settings, settings.workflow_topic)]
    customers = sorted(w["payload"]["customerIdentifier"] for w in published)
    assert customers == ["1", "2", "3"], "the refused request published nothing"


class Crasher:
    """Kills (SIGKILL) and restarts the functions of a running system at random moments."""

    def __init__(self, processes: Processes, settings: StackSettings, seed: int) -> None:
        self.processes = processes
        self.settings = settings
        self.random = random.Random(seed)
        self.running: dict[str, Process] = {}
        self.kills: dict[str, int] = {}
        self.urls: dict[str, str] = {}

    def start(self, function: str) -> None:
        name = f"{function}-{self.kills.get(function, 0) + 1}"
        if function in ("coordinator", "crm"):
            url, process = start_http_function(self.processes, self.settings, function, name)
            self.urls[function] = url
            self.running[function] = process
        else:
            command = [sys.executable, "-m", "runtime", function]
            self.running[function] = self.processes.start(command, self.settings, name)

    def crash(self, function: str) -> None:
        self.running[function].kill()
        self.kills[function] = self.kills.get(function, 0) + 1
        time.sleep(self.random.uniform(0, 2))
        self.start(function)

    def rampage(self, functions: list[str], rounds: int, done: Callable[[], bool]) -> None:
        """Every function crashes ``rounds`` times, 1 to 4 s apart, each round in a random
        order. The first round always runs through, so every function dies at least once;
        the later ones stop once ``done()``."""
        for round_number in range(rounds):
            victims = list(functions)
            self.random.shuffle(victims)
            for function in victims:
                time.sleep(self.random.uniform(1, 4))
                if round_number > 0 and done():
                    return
                self.crash(function)


@pytest.mark.slow
def test_kill_9_of_any_function_mid_run_of_1000_loses_and_doubles_nothing(
    settings: StackSettings, processes: Processes
) -> None:
    seed = random.randrange(1 << 30)
    print(f"crash schedule seed: {seed}")  # rerun a failure with the same schedule
    customers = seed_customers(settings, 1000)
    crasher = Crasher(processes, settings, seed)
    for function in ("coordinator", "crm", *KAFKA_TRIGGERED, "retry-unanswered"):
        crasher.start(function)

    # The coordinator dies while answering; the client retries with the same key.
    key = str(uuid.uuid4())
    first: dict[str, Any] = {}
    posting = threading.Thread(
        target=lambda: first.update(response=_try_post(crasher.urls["coordinator"], customers, key))
    )
    posting.start()
    time.sleep(crasher.random.uniform(0, 0.05))
    crasher.crash("coordinator")
    posting.join()
    response = wait_for(
        "the run accepted",
        lambda: _try_post(crasher.urls["coordinator"], customers, key),
        timeout_s=120,
    )
    assert response.status_code == 202
    if first.get("response") is not None:
        assert first["response"].json() == response.json(), "a retry started a second run"
    wanted = expected_bills(response)

    def all_billed() -> bool:
        return len(bill_names(settings)) >= len(wanted)

    crasher.rampage([*KAFKA_TRIGGERED, "crm", "retry-unanswered"], rounds=2, done=all_billed)
    outcomes = wait_for("1000 jobs closed", closed(settings, 1000), timeout_s=600)

    assert all(crasher.kills.get(f, 0) >= 1 for f in KAFKA_TRIGGERED), crasher.kills
    assert len(wanted) == 1000
    assert_billed_exactly_once(settings, outcomes, wanted)
    again = post_run(crasher.urls["coordinator"], customers, key)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert requests.get(crasher.urls["crm"], params={"customerId": "1000"}, timeout=10).ok


def _try_post(url: str, customers: list[str], key: str) -> requests.Response | None:
    try:
        response = post_run(url, customers, key)
    except requests.RequestException:
        return None  # the coordinator died under the request
    return response if response.status_code == 202 else None
