"""Billing-run throughput and latency on the running local stack (``make bench``).

Prints, for runs of several sizes: how long the coordinator took to answer (all workflow
messages acknowledged by Kafka) and how long until every bill was in S3.
"""

from __future__ import annotations

import argparse
import statistics
import time

from infra.demo import COORDINATOR, start_run, wait_for_bills
from runtime.config import Settings

SEED_CUSTOMERS = [str(n) for n in range(1, 9)]


def measure(settings: Settings, url: str, size: int) -> tuple[float, float]:
    customers = [SEED_CUSTOMERS[n % len(SEED_CUSTOMERS)] for n in range(size)]
    started = time.perf_counter()
    _run_id, names = start_run(customers, url)
    accepted_s = time.perf_counter() - started
    wait_for_bills(settings, names, timeout_s=600, poll_s=0.05 if size < 100 else 0.5)
    return accepted_s, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default=COORDINATOR)
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
