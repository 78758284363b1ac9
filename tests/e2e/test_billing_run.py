"""End to end: the processes started as a user starts them, a POST, the bills in S3."""

from __future__ import annotations

import functools
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from functions.bills import bill_name
from functions.messages import WorkflowId
from runtime.config import Settings
from tests.support import Process, free_port, wait_for

BIN = Path(sys.executable).parent


@pytest.fixture
def http_functions(settings: Settings, tmp_path: Path) -> Iterator[dict[str, str]]:
    urls, processes = {}, []
    for target in ("coordinator", "crm"):
        port = free_port()
        command = [str(BIN / "functions-framework"), "--target", target, "--port", str(port)]
        processes.append(Process(command, settings, tmp_path / f"{target}.log"))
        urls[target] = f"http://127.0.0.1:{port}/"
    for url in urls.values():
        wait_for(f"{url} to answer", functools.partial(_answers, url), timeout_s=30)
    yield urls
    for process in processes:
        assert process.terminate() == 0, process.output()


def _answers(url: str) -> bool:
    try:
        requests.get(url, timeout=2)
        return True
    except requests.ConnectionError:
        return False


def _bills(settings: Settings) -> str:
    command = [str(BIN / "aws"), "s3", "ls", f"s3://{settings.bills_bucket}/"]
    if settings.s3_endpoint_url:
        command[1:1] = ["--endpoint-url", settings.s3_endpoint_url]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def test_a_billing_run_puts_every_bill_in_s3_even_across_a_runtime_restart(
    settings: Settings, http_functions: dict[str, str], tmp_path: Path
) -> None:
    everyone = [str(n) for n in range(1, 9)]
    runtime = Process.runtime("all", settings, tmp_path / "runtime.log")
    try:
        response = requests.post(
            http_functions["coordinator"], json={"customerIdentifiers": everyone[:4]}, timeout=30
        )
        assert response.status_code == 202, response.text
        first_run = response.json()["workflows"]
        names = [bill_name(w["customerIdentifier"], WorkflowId(w["workflowId"])) for w in first_run]
        wait_for("the first run's bills", lambda: all(name in _bills(settings) for name in names))
    finally:
        assert runtime.terminate() == 0, runtime.output()

    # With the runtime down, the coordinator still takes work: Kafka keeps it.
    response = requests.post(
        http_functions["coordinator"], json={"customerIdentifiers": everyone[4:]}, timeout=30
    )
    assert response.status_code == 202, response.text
    second_run = response.json()["workflows"]
    names += [bill_name(w["customerIdentifier"], WorkflowId(w["workflowId"])) for w in second_run]

    restarted = Process.runtime("all", settings, tmp_path / "runtime-again.log")
    try:

        def every_bill_listed() -> str | None:
            listing = _bills(settings)
            return listing if all(name in listing for name in names) else None

        listing = wait_for("all 8 bills", every_bill_listed)
        assert len(listing.splitlines()) == 8
    finally:
        assert restarted.terminate() == 0, restarted.output()

    mary = requests.get(http_functions["crm"], params={"customerId": "8"}, timeout=10).json()
    assert mary["lastName"] == "Bertrand"


def test_bad_requests_get_a_4xx_naming_the_problem(http_functions: dict[str, str]) -> None:
    response = requests.post(
        http_functions["coordinator"], data='{"customerIdentifers":["2","4","5"]}', timeout=10
    )
    assert response.status_code == 400
    assert "customerIdentifiers" in response.json()["error"]
    assert (
        requests.get(http_functions["crm"], params={"customerId": "404"}, timeout=10).status_code
        == 404
    )
