"""docker-compose.yml for real: up, a billing run of every customer, a crashed runtime
container, down. The tests run in this order on one stack (tests/compose/conftest.py)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from typing import Any

import pytest
import requests

from functions.runs import status
from tests.helpers.cli import billing
from tests.helpers.compose import ComposeStack, podman
from tests.helpers.stores import assert_billed_exactly_once, bill_names, closed, seed_customers
from tests.helpers.waiting import wait_for

# The first test's time includes building the app image (and the stand-ins, when
# `make compose-check` has not built them first): minutes on a fresh machine.
pytestmark = [pytest.mark.compose, pytest.mark.timeout(2400)]

AWS = str(os.path.join(os.path.dirname(sys.executable), "aws"))
FUNCTIONS = ("coordinator", "crm", "runtime")
# Enough that the run is still going when the first bill is written and the runtime dies.
CRASH_RUN_CUSTOMERS = 500


def test_the_stack_bills_every_seed_customer(compose_stack: ComposeStack) -> None:
    settings = compose_stack.settings
    result = billing(settings, "run", "--all-customers", "--wait", token=settings.auth_token)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "8 billed, 0 failed" in result.stdout
    match = re.search(r"run-\d{8}T\d{6}-[0-9a-f]{8}", result.stdout)
    assert match, result.stdout

    listing = subprocess.run(
        [
            AWS,
            "--endpoint-url",
            settings.s3_endpoint_url or "",
            "s3",
            "ls",
            f"s3://bills/{match[0]}/",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    bills = sorted(line.split()[-1] for line in listing.splitlines())
    assert bills == sorted(f"customer-bill-{n}.txt" for n in range(1, 9))


def test_the_functions_run_as_their_own_user_on_loopback_ports_and_want_the_token(
    compose_stack: ComposeStack,
) -> None:
    for service in FUNCTIONS:
        container = compose_stack.container(service)
        assert podman("exec", container, "id", "-un").strip() == "billing", service
    for service in (*FUNCTIONS, "kafka", "localstack"):
        bindings = compose_stack.inspect(service)["HostConfig"]["PortBindings"]
        # A port the image exposes and the compose file does not publish has no binding.
        hosts = {b["HostIp"] for ports in bindings.values() for b in ports or ()}
        assert hosts == {"127.0.0.1"}, f"{service} publishes on {hosts}"
    refused = requests.get(f"{compose_stack.settings.coordinator_address}/runs", timeout=10)
    assert refused.status_code == 401


def _counts(stack: ComposeStack, run_id: str) -> dict[str, int]:
    response = requests.get(
        f"{stack.settings.coordinator_address}/runs/{run_id}?customers=false",
        headers={"Authorization": f"Bearer {stack.settings.auth_token}"},
        timeout=10,
    )
    response.raise_for_status()
    counts: dict[str, int] = response.json()["counts"]
    return counts


def test_a_killed_runtime_container_is_restarted_and_every_customer_billed_once(
    compose_stack: ComposeStack,
) -> None:
    settings = compose_stack.settings
    earlier_bills = bill_names(settings)
    customers = seed_customers(settings, CRASH_RUN_CUSTOMERS)
    accepted = requests.post(
        settings.coordinator_address,
        json={"customerIdentifiers": customers},
        headers={"Authorization": f"Bearer {settings.auth_token}"},
        timeout=60,
    )
    assert accepted.status_code == 202, accepted.text
    run_id = accepted.json()["runId"]
    runtime: dict[str, Any] = compose_stack.inspect("runtime")

    def billing_under_way() -> dict[str, int] | None:
        counts = _counts(compose_stack, run_id)
        return counts if counts["billed"] > 0 else None

    under_way = wait_for("the run's first bill", billing_under_way, timeout_s=180)
    assert under_way["pending"] > 0, f"the run ended before the kill: {under_way}"
    # A crash, as an out-of-memory kill would be: the container's first process dies at
    # once, and every process of the container with it. (`podman kill` would not do:
    # podman counts it as a stop by the user, which the restart policy leaves alone.)
    os.kill(runtime["State"]["Pid"], signal.SIGKILL)

    def restarted() -> dict[str, Any] | None:
        now = compose_stack.inspect("runtime")
        running = now["State"]["Running"] and now["State"]["Pid"] != runtime["State"]["Pid"]
        return now if running and now["RestartCount"] > runtime["RestartCount"] else None

    wait_for("the runtime container restarted", restarted, timeout_s=120)
    expected = earlier_bills + status.bill_names(accepted.json())
    outcomes = wait_for("every customer billed", closed(settings, len(expected)), timeout_s=600)
    assert_billed_exactly_once(settings, outcomes, expected)
    assert _counts(compose_stack, run_id) == {
        "billed": CRASH_RUN_CUSTOMERS,
        "failed": 0,
        "pending": 0,
    }


def test_down_leaves_no_container_network_or_volume(compose_stack: ComposeStack) -> None:
    services = compose_stack.compose("ps", "--all", "--services").split()
    volumes = {
        mount["Name"]
        for service in services
        for mount in compose_stack.inspect(service)["Mounts"]
        if mount["Type"] == "volume"
    }
    assert volumes, "Kafka's and LocalStack's images declare volumes"
    assert compose_stack.labelled("network"), "the project has a network of its own"

    compose_stack.compose("down", "--volumes")

    assert compose_stack.labelled("container") == []
    assert compose_stack.labelled("network") == []
    assert volumes.isdisjoint(podman("volume", "ls", "--quiet").split())
