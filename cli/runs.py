"""``billing run`` and ``billing runs ls|show|retry|cancel``: start runs, follow them and
steer them."""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from cli.api import Api, CliError
from cli.progress import follow, summary
from cli.table import table
from functions.runs import MAX_RUN_SIZE
from runtime.config.tuning import RUNS_POSTED_AT_ONCE


def run(api: Api, args: argparse.Namespace) -> int:
    if args.all_customers and args.customers:
        raise CliError("give customer ids or --all-customers, not both")
    if not args.all_customers and not args.customers:
        raise CliError("name the customers to bill (`billing run 1 2 3`) or give --all-customers")
    # Every id is read before the first run is posted: once billing starts, it takes the
    # CPU that reading the rest would need (100,000 ids: 14 s before, 60 s and more after).
    customer_ids = list(_every_customer(api)) if args.all_customers else args.customers
    run_ids = _start_runs(api, customer_ids)
    if not run_ids:
        raise CliError("the CRM knows no customers; add one with POST /customers")
    return _followed(api, run_ids) if args.wait else _follow_hint(run_ids[0])


def _follow_hint(run_id: str) -> int:
    print(f"follow it with: billing runs show {run_id}")
    return 0


def _followed(api: Api, run_ids: list[str]) -> int:
    started = time.monotonic()
    # Counts only while it runs: reading why each failed is for the summary, once.
    follow(run_ids, lambda run_id: api.run_status(run_id, customers=False))
    elapsed = time.monotonic() - started
    statuses = [api.run_status(run_id, "failed") for run_id in run_ids]
    print(summary(statuses, elapsed, api.settings.bills_bucket))
    return 1 if any(status["counts"]["failed"] for status in statuses) else 0


def _start_runs(api: Api, customer_ids: Iterable[str]) -> list[str]:
    """A run per 10,000 customers, a few posted at once."""

    def start(chunk: list[str]) -> str:
        run_id: str = api.start_run(chunk)["runId"]
        print(f"{run_id}: {len(chunk)} customer(s) on their way", flush=True)
        return run_id

    with ThreadPoolExecutor(RUNS_POSTED_AT_ONCE) as pool:
        started = [pool.submit(start, chunk) for chunk in runs_of(customer_ids)]
    return [future.result() for future in started]


def _every_customer(api: Api) -> Iterator[str]:
    for page in api.customer_id_pages():
        yield from page


def runs_of(customer_ids: Iterable[str]) -> Iterator[list[str]]:
    """The ids in runs of at most the coordinator's limit, each as soon as it is full."""
    chunk: list[str] = []
    for customer_id in customer_ids:
        chunk.append(customer_id)
        if len(chunk) == MAX_RUN_SIZE:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def runs_ls(api: Api, args: argparse.Namespace) -> int:
    runs, after = api.runs(
        args.after, args.limit, state=args.state, since=args.since, until=args.until
    )
    rows = [
        (
            run["runId"],
            run["createTime"],
            run["state"],
            str(run["total"]),
            *(str(run["counts"][state]) for state in ("billed", "failed", "pending")),
            run.get("retryOf", ""),
        )
        for run in runs
    ]
    header = ("RUN", "STARTED", "STATE", "CUSTOMERS", "BILLED", "FAILED", "PENDING", "RETRY OF")
    if rows:
        table(header, rows)
    else:
        print("no runs")
    if after is not None:
        print(f"more: billing runs ls --after {after}")
    return 0


def runs_retry(api: Api, args: argparse.Namespace) -> int:
    retry = api.retry_run(args.run_id)
    count = len(retry["workflows"])
    print(f"{retry['runId']}: retries {count} failed customer(s) of {args.run_id}")
    return _followed(api, [retry["runId"]]) if args.wait else _follow_hint(retry["runId"])


def runs_cancel(api: Api, args: argparse.Namespace) -> int:
    status = api.cancel_run(args.run_id)
    print(
        f"{status['runId']} cancelled at {status['cancelledAt']}: {counted(status)}"
        " (they end as cancelled)"
    )
    return 0


def counted(run: dict[str, Any]) -> str:
    """A run's counts, in one line."""
    counts = run["counts"]
    return f"{counts['billed']} billed, {counts['failed']} failed, {counts['pending']} pending"


def runs_show(api: Api, args: argparse.Namespace) -> int:
    status = api.run_status(args.run_id, args.state)
    lineage = "".join(
        [
            f", a retry of {status['retryOf']}" if "retryOf" in status else "",
            f", retried by {', '.join(status['retries'])}" if status.get("retries") else "",
        ]
    )
    print(
        f"{status['runId']} ({status['state']}, started {status['createTime']}{lineage}):"
        f" {status['total']} customer(s): {counted(status)}"
    )
    rows = [
        (c["customerIdentifier"], c["state"], c.get("bill") or c.get("reason") or _waiting(c))
        for c in status["customers"]
    ]
    table(("CUSTOMER", "STATE", "BILL OR REASON"), rows)
    return 0


def _waiting(customer: dict[str, Any]) -> str:
    return "waiting for the CRM's answer" if customer.get("asked") else "queued"
