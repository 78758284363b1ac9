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


def start_run(customer_ids: list[str], url: str = COORDINATOR) -> tuple[str, set[str]]:
    """POST a billing run; its run id and the names its bills will have."""
    request = urllib.request.Request(
        url,
        data=json.dumps({"customerIdentifiers": customer_ids}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        body = json.load(response)
        log.info("coordinator answered %d: run %s", response.status, body["runId"])
    names = {
        bill_name(w["customerIdentifier"], WorkflowId(w["workflowId"])) for w in body["workflows"]
    }
    return body["runId"], names


def wait_for_bills(
    settings: Settings, names: set[str], timeout_s: float = 90, poll_s: float = 0.5
) -> None:
    s3 = s3_client(settings)
    deadline = time.monotonic() + timeout_s
    found: set[str] = set()
    while time.monotonic() < deadline:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.bills_bucket):
            found |= {item["Key"] for item in page.get("Contents", [])} & names
        if found == names:
            return
        time.sleep(poll_s)
    raise SystemExit(f"only {len(found)} of {len(names)} bills after {timeout_s:.0f}s")


def aws_s3_ls(settings: Settings) -> list[str]:
    """The `aws s3 ls` of the bills bucket, as a user types it."""
    endpoint = ["--endpoint-url", settings.s3_endpoint_url] if settings.s3_endpoint_url else []
    aws = str(Path(sys.executable).parent / "aws")
    return [aws, *endpoint, "s3", "ls", f"s3://{settings.bills_bucket}/"]


def main() -> int:
    settings = Settings.from_env()
    configure_logging(settings.log_level, role="demo")
    run_id, names = start_run([customer.customer_id for customer in seed_customers()])
    started = time.monotonic()
    wait_for_bills(settings, names)
    log.info("all %d bills written in %.1fs", len(names), time.monotonic() - started)

    command = aws_s3_ls(settings)
    print("$ aws " + " ".join(command[1:]))
    # A local S3 server takes any credentials; the aws CLI wants some all the same.
    env = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", **os.environ}
    listing = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
    print("".join(line + "\n" for line in listing.splitlines() if run_id in line), end="")
    print(f"{len(names)} bills for run {run_id} (bills of earlier runs left out)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
