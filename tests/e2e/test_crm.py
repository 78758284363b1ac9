"""End to end, the CRM as its users call it: many concurrent creators, imports from the
lab's CSV format with the `billing` CLI, listings a page at a time."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest

from runtime.config import StackSettings
from tests.helpers.cli import TOKEN, billing
from tests.helpers.processes import Processes, start_http_function

NEW = {"firstName": "Ada", "lastName": "L", "city": "Delft", "connectionId": "1"} | {
    "connectionMandate": "0"
}


@pytest.fixture
def crm(settings: StackSettings, processes: Processes) -> StackSettings:
    """The CRM with auth on, as `functions-framework --target crm` starts it."""
    guarded = replace(settings, auth_token=TOKEN)
    url, _ = start_http_function(processes, guarded, "crm")
    return replace(guarded, crm_url=url)


def create(url: str) -> tuple[int, str]:
    request = urllib.request.Request(
        url + "customers",
        data=json.dumps(NEW).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.load(response)["customerId"]
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_64_concurrent_clients_create_1280_customers_with_unique_ids(crm: StackSettings) -> None:
    with ThreadPoolExecutor(64) as clients:
        answers = list(clients.map(lambda _: create(crm.crm_address), range(64 * 20)))
    refused = [answer for answer in answers if answer[0] != 201]
    assert refused == []
    ids = [customer_id for _, customer_id in answers]
    assert len(set(ids)) == 1280
    listed = billing(crm, "customers", "ls", "--all")
    assert listed.returncode == 0, listed.stderr
    assert len(listed.stdout.splitlines()) == 1 + 8 + 1280  # the header, the seed, the new


def test_a_csv_is_imported_whole_and_listed_a_page_at_a_time(
    crm: StackSettings, tmp_path: Path
) -> None:
    header = "customerId,firstName,lastName,city,connectionId,connectionMandate\n"
    rows = [f"{n},First{n},Last{n},Utrecht,{5000 + n},1\n" for n in range(100, 350)]
    good = tmp_path / "customers.csv"
    good.write_text(header + "".join(rows) + ",No,Id,Leiden,1,0\n")
    imported = billing(crm, "customers", "import", str(good))
    assert imported.returncode == 0, imported.stderr
    assert "251 customer(s) imported in" in imported.stdout

    first = billing(crm, "customers", "ls", "--limit", "5").stdout.splitlines()
    assert [line.split()[0] for line in first[1:6]] == ["1", "2", "3", "4", "5"]
    assert first[6] == "more: billing customers ls --after 5 (or --all)"
    later = billing(crm, "customers", "ls", "--after", "348", "--limit", "5").stdout.splitlines()
    assert later[1].split() == ["349", "First349", "Last349", "Utrecht"]
    # The row without an id: the first of the block after those the file's ids are in.
    assert later[2].split()[0] == "401"
    everyone = billing(crm, "customers", "ls", "--all").stdout.splitlines()
    assert len(everyone) == 1 + 8 + 251

    bad = tmp_path / "bad.csv"
    bad.write_text(header + "900,A,B,C,1,0\n901,A,,C,1,0\n../x,A,B,C,1,0\n")
    refused = billing(crm, "customers", "import", str(bad))
    assert refused.returncode == 2
    assert f'{bad}:3: "lastName" must be a non-empty string' in refused.stderr
    assert f"{bad}:4: \"customerId\" is '../x', which is not a customer id" in refused.stderr
    assert "nothing was imported: 2 invalid row(s)" in refused.stderr
    missing = billing(crm, "customers", "ls", "--after", "899", "--limit", "1")
    assert "900" not in missing.stdout
