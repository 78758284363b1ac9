"""End to end: the processes started as a user starts them, a POST, the bills in S3."""

from __future__ import annotations

import functools
import subprocess

import pytest
import requests

from functions.runs.status import bill_names
from infra.demo import aws_s3_ls
from runtime.config import StackSettings
from tests.helpers.processes import Processes, start_http_function
from tests.helpers.waiting import wait_for

TARGETS = ("coordinator", "crm")


@pytest.fixture
def http_functions(settings: StackSettings, processes: Processes) -> dict[str, str]:
    return {target: start_http_function(processes, settings, target)[0] for target in TARGETS}


def _listing_with(settings: StackSettings, names: list[str]) -> str | None:
    """The `aws s3 ls` output once it lists every one of ``names``."""
    command = aws_s3_ls(settings, recursive=True)
    listing = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return listing if all(name in listing for name in names) else None


def _bill_names(response: requests.Response) -> list[str]:
    return bill_names(response.json())


def test_a_billing_run_puts_every_bill_in_s3_even_across_a_runtime_restart(
    settings: StackSettings, http_functions: dict[str, str], processes: Processes
) -> None:
    everyone = [str(n) for n in range(1, 9)]
    runtime = processes.runtime("all", settings)
    response = requests.post(
        http_functions["coordinator"], json={"customerIdentifiers": everyone[:4]}, timeout=30
    )
    assert response.status_code == 202, response.text
    names = _bill_names(response)
    wait_for("the first run's bills", functools.partial(_listing_with, settings, names))
    assert runtime.terminate() == 0, runtime.output()

    # With the runtime down, the coordinator still takes work: Kafka keeps it.
    response = requests.post(
        http_functions["coordinator"], json={"customerIdentifiers": everyone[4:]}, timeout=30
    )
    assert response.status_code == 202, response.text
    names += _bill_names(response)

    processes.runtime("all", settings, "runtime-again")
    listing = wait_for("all 8 bills", functools.partial(_listing_with, settings, names))
    assert len(listing.splitlines()) == 8

    mary = requests.get(http_functions["crm"], params={"customerId": "8"}, timeout=10).json()
    assert mary["lastName"] == "Bertrand"


def test_bad_requests_get_a_4xx_naming_the_problem(http_functions: dict[str, str]) -> None:
    # The lab text's own curl example, misspelling and all.
    response = requests.post(
        http_functions["coordinator"],
        data='{"customerIdentifers":["2","4","5"]}',
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 400
    assert 'did you mean "customerIdentifiers"' in response.json()["detail"]
    as_form = requests.post(http_functions["coordinator"], data={"customerIdentifiers": "1"})
    assert as_form.status_code == 415
    assert "application/json" in as_form.json()["detail"]
    not_found = requests.get(http_functions["crm"], params={"customerId": "404"}, timeout=10)
    assert not_found.status_code == 404
