"""The CRM at scale, on the running local stack (``make bench``).

    python -m bench.crm --customers 10000

Imports N customers from a CSV file in the lab's format with `billing customers import`,
then times what its users do with that many: the first page of ``GET /``, every id
enumerated, and creates from 32 and 64 concurrent clients (20 each). Ends with a JSON line.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import redirect_stdout
from io import StringIO
from pathlib import Path

from cli.__main__ import main as billing
from cli.api import Api, CliError
from infra.components import http_answers
from runtime.config import StackSettings

COLUMNS = "customerId,firstName,lastName,city,connectionId,connectionMandate"
NEW = {"firstName": "Bench", "lastName": "Mark", "city": "Utrecht"} | {
    "connectionId": "1",
    "connectionMandate": "1",
}


def import_csv(count: int) -> float:
    """Customers ``bench-00000`` on (the billing benchmark's) from a CSV; seconds taken."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "customers.csv"
        rows = (f"bench-{n:05d},First{n},Last{n},Utrecht,{10_000 + n},1" for n in range(count))
        path.write_text("\n".join([COLUMNS, *rows]) + "\n")
        started = time.monotonic()
        with redirect_stdout(StringIO()):
            status = billing(["customers", "import", str(path)])
        if status != 0:
            raise SystemExit(f"the import failed with {status}")
        return time.monotonic() - started


def timed(action: Callable[[], object]) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started


def concurrent_creates(api: Api, clients: int, each: int) -> tuple[float, int, int]:
    """``clients`` callers creating ``each`` customers: creates/s, errors, distinct ids."""

    def create(_: int) -> str | None:
        try:
            return api.create_customer(NEW)["customerId"]
        except CliError:
            return None

    started = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        ids = list(pool.map(create, range(clients * each)))
    elapsed = time.monotonic() - started
    created = [customer_id for customer_id in ids if customer_id is not None]
    return len(created) / elapsed, len(ids) - len(created), len(set(created))


def cli_start_s(times: int = 5) -> float:
    """The quickest of a few `billing --help`: what starting the CLI costs."""
    command = [str(Path(sys.executable).parent / "billing"), "--help"]
    return min(
        timed(lambda: subprocess.run(command, capture_output=True, check=True))
        for _ in range(times)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=10_000)
    args = parser.parse_args()
    settings = StackSettings.from_env()
    if not http_answers(settings.crm_address + "/openapi.json"):
        raise SystemExit(f"no CRM at {settings.crm_address}; start the stack with `make up`")
    api = Api(settings)
    imported_s = import_csv(args.customers)
    print(
        f"CSV import of {args.customers} customers: {imported_s:.1f} s,"
        f" {args.customers / imported_s:.0f} customers/s"
    )
    first_page_s = timed(lambda: next(api.customer_pages()))
    started = time.monotonic()
    ids = [customer_id for page in api.customer_id_pages() for customer_id in page]
    enumerate_s = time.monotonic() - started
    print(
        f"with {len(ids)} customers: the first page of GET / in {first_page_s * 1000:.0f} ms,"
        f" every id in {enumerate_s:.2f} s"
    )
    figures: dict[str, float] = {
        "import_per_s": args.customers / imported_s,
        "first_page_ms": first_page_s * 1000,
        "enumerate_s": enumerate_s,
    }
    for clients in (32, 64):
        rate, errors, distinct = concurrent_creates(api, clients, 20)
        print(
            f"{clients} clients x 20 creates: {rate:.0f} creates/s, {errors} error(s),"
            f" {distinct} distinct ids"
        )
        figures |= {f"creates_per_s_{clients}": rate, f"create_errors_{clients}": errors}
    figures["cli_help_s"] = cli_start_s()
    print(f"`billing --help` in {figures['cli_help_s']:.2f} s (the quickest of 5)")
    print(json.dumps({"n": args.customers, **{k: round(v, 2) for k, v in figures.items()}}))


if __name__ == "__main__":
    main()
