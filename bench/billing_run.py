"""Billing-run throughput and latency on the running local stack (``make bench``).

Prints, for runs of several sizes: how long the coordinator took to answer (all workflow
messages acknowledged by Kafka) and how long until every bill was in S3.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import urllib.request

from runtime.config import Settings
from runtime.services import s3_client

SEED_CUSTOMERS = [str(n) for n in range(1, 9)]


def post_run(url: str, customer_ids: list[str]) -> tuple[str, float]:
    body = json.dumps({"customerIdentifiers": customer_ids}).encode()
    request = urllib.request.Request(url, data=body, method="POST")
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as response:
        run_id = json.load(response)["runId"]
    return run_id, time.perf_counter() - started


def bills_of(settings: Settings, run_id: str) -> int:
    s3 = s3_client(settings)
    count = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.bills_bucket):
        count += sum(run_id in item["Key"] for item in page.get("Contents", []))
    return count


def measure(settings: Settings, url: str, size: int, timeout_s: float = 600) -> tuple[float, float]:
    customers = [SEED_CUSTOMERS[n % len(SEED_CUSTOMERS)] for n in range(size)]
    started = time.perf_counter()
    run_id, accepted_s = post_run(url, customers)
    while bills_of(settings, run_id) < size:
        if time.perf_counter() - started > timeout_s:
            raise SystemExit(f"run of {size}: bills missing after {timeout_s:.0f}s")
        time.sleep(0.05 if size < 100 else 0.5)
    return accepted_s, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:3007/")
    parser.add_argument("--sizes", default="1,8,100,1000")
    parser.add_argument("--repeat", type=int, default=5, help="runs per size below 100")
    args = parser.parse_args()
    settings = Settings.from_env()
    header = ("customers", "runs", "202 after (p50)", "all bills after (p50)", "bills/s")
    print(f"{header[0]:>9} {header[1]:>4} {header[2]:>16} {header[3]:>22} {header[4]:>8}")
    for size in (int(s) for s in args.sizes.split(",")):
        repeat = args.repeat if size < 100 else 1
        results = [measure(settings, args.url, size) for _ in range(repeat)]
        accepted = statistics.median(r[0] for r in results)
        done = statistics.median(r[1] for r in results)
        print(
            f"{size:>9} {repeat:>4} {accepted * 1000:>14.0f}ms"
            f" {done * 1000:>20.0f}ms {size / done:>8.0f}"
        )


if __name__ == "__main__":
    main()
