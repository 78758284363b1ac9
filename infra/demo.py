"""A real billing run on the running stack: every seed customer, then the bills in S3.

python -m infra.demo        (make demo brings the stack up first)
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from functions.bills import bill_name
from functions.crm_api import seed_customers
from functions.messages import WorkflowId
from runtime.config import Settings
from runtime.logs import configure_logging
from runtime.services import s3_client

log = logging.getLogger("infra.demo")
COORDINATOR = f"http://127.0.0.1:{os.environ.get('COORDINATOR_PORT', '3007')}/"


def start_run(customer_ids: list[str]) -> dict[str, object]:
    request = urllib.request.Request(
        COORDINATOR,
        data=json.dumps({"customerIdentifiers": customer_ids}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        body: dict[str, object] = json.load(response)
        log.info("coordinator answered %d: run %s", response.status, body["runId"])
        return body


def wait_for_bills(settings: Settings, names: set[str], timeout_s: float = 90) -> None:
    s3 = s3_client(settings)
    deadline = time.monotonic() + timeout_s
    found: set[str] = set()
    while time.monotonic() < deadline:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.bills_bucket):
            found |= {item["Key"] for item in page.get("Contents", [])} & names
        if found == names:
            return
        time.sleep(0.5)
    raise SystemExit(f"demo: only {len(found)} of {len(names)} bills after {timeout_s:.0f}s")


def main() -> int:
    settings = Settings.from_env()
    configure_logging(settings.log_level, role="demo")
    customer_ids = [customer.customer_id for customer in seed_customers()]
    run = start_run(customer_ids)
    workflows = run["workflows"]
    assert isinstance(workflows, list)
    names = {bill_name(w["customerIdentifier"], WorkflowId(w["workflowId"])) for w in workflows}
    started = time.monotonic()
    wait_for_bills(settings, names)
    log.info("all %d bills written in %.1fs", len(names), time.monotonic() - started)

    command = [
        str(Path(sys.executable).parent / "aws"),
        "s3",
        "ls",
        f"s3://{settings.bills_bucket}/",
    ]
    if settings.s3_endpoint_url:
        command[1:1] = ["--endpoint-url", settings.s3_endpoint_url]
    print("$ aws " + " ".join(command[1:]))
    listing = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    print(
        "".join(line + "\n" for line in listing.splitlines() if str(run["runId"]) in line), end=""
    )
    print(f"{len(names)} bills for run {run['runId']} (bills of earlier runs left out)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
