"""What a billing period costs to run again once it is billed (``make bench``).

    python -m bench.period_rerun --customers 10000

Bills N customers in a period of its own, then runs every one of them again in the same
period, as `billing run --all-customers --period` does: the second pass must publish no
workflow, and costs a listing of the span of the period's bills (a request per 1,000) and
each run's record. Prints the S3 requests of the second pass per 1,000 customers.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid

from bench import probes
from bench.billing_run import metrics_urls, running_stack, seed
from cli.api import Api
from functions.runs.status import MAX_RUN_SIZE
from functions.storage.bucket import Bucket
from runtime.config import StackSettings
from runtime.services import s3_client

BUDGET_PER_THOUSAND = 15  # S3 requests the second pass may cost per 1,000 customers


def a_period_of_its_own() -> str:
    """A month nobody bills: this benchmark's bills never meet another's."""
    number = uuid.uuid4().int
    return f"{3000 + number % 6000}-{number // 6000 % 12 + 1:02d}"


def post_all(api: Api, customers: list[str], period: str) -> tuple[list[str], int, int]:
    """Runs of every customer in the period, 10,000 a run: their ids, the workflows they
    sent, and the customers they found billed already."""
    run_ids, sent, billed_before = [], 0, 0
    for start in range(0, len(customers), MAX_RUN_SIZE):
        answer, _ = api.start_keyed_run(customers[start : start + MAX_RUN_SIZE], period)
        run_ids.append(answer["runId"])
        sent += len(answer["workflows"])
        billed_before += len(answer.get("billedBefore", []))
    return run_ids, sent, billed_before


def wait_until_billed(settings: StackSettings, period: str, count: int, timeout_s: float) -> float:
    bills = Bucket(s3_client(settings), settings.bills_bucket)
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if sum(1 for _ in bills.names(f"{period}/")) >= count:
            return time.monotonic() - started
        time.sleep(1)
    raise SystemExit(f"not every bill of {period} exists after {timeout_s:.0f}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=10_000)
    args = parser.parse_args()
    settings = running_stack()
    api = Api(settings)
    customers = seed(settings, args.customers)
    period = a_period_of_its_own()
    before = probes.counters(metrics_urls(settings))
    _, sent, _ = post_all(api, customers, period)
    billed_s = wait_until_billed(settings, period, args.customers, 60 + args.customers / 5)
    first_pass = probes.s3_requests(
        probes.increase(before, probes.counters(metrics_urls(settings)))
    )
    before = probes.counters(metrics_urls(settings))
    started = time.monotonic()
    run_ids, sent_again, billed_before = post_all(api, customers, period)
    elapsed = time.monotonic() - started
    delta = probes.increase(before, probes.counters(metrics_urls(settings)))
    requests = probes.s3_requests(delta)
    per_thousand = requests / args.customers * 1000
    print(
        f"a period of {args.customers} customers billed in {billed_s:.1f} s ({sent} workflows,"
        f" {first_pass / args.customers:.2f} S3 requests a bill);"
        f" run again: {sent_again} workflows, {billed_before} found billed, {len(run_ids)}"
        f" run(s) in {elapsed * 1000:.0f} ms, {requests:.0f} S3 requests,"
        f" {per_thousand:.1f} per 1,000 customers (at most {BUDGET_PER_THOUSAND})"
    )
    print(
        json.dumps(
            {
                "n": args.customers,
                "period": period,
                "s3_requests_per_bill": round(first_pass / args.customers, 3),
                "rerun_workflows": sent_again,
                "rerun_s3_requests": requests,
                "rerun_s3_requests_per_1000": round(per_thousand, 2),
                "rerun_ms": round(elapsed * 1000),
            }
        )
    )
    if sent_again or per_thousand > BUDGET_PER_THOUSAND:
        raise SystemExit("running a billed period again must send nothing, at its budget")


if __name__ == "__main__":
    main()
