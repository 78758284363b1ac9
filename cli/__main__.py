"""billing: start billing runs, follow them, and read their bills.

    billing run 1 2 3 [--wait]          bill these customers
    billing run --all-customers --wait  bill every customer the CRM knows, and follow it
    billing runs ls [--state S] [--limit N] [--since T] [--until T]   the runs, newest first
    billing runs show <run id>          how far a run is, customer by customer
    billing runs retry <run id> [--wait]  bill the run's failed customers again
    billing runs cancel <run id>        stop a run: its pending customers fail as cancelled
    billing schedule [--count N]        BILLING_SCHEDULE's next ticks, and its last run
    billing bills ls [--customer N] [--run <run id>]
    billing bills show <bill key | customer id>
    billing customers ls [--limit N] [--after ID] [--all]
    billing customers import FILE.csv   the lab's customer file format; all rows or none
    billing trace <customer id | workflow id>  a workflow's trace (`make up TRACES=1`)

It finds the stack through COORDINATOR_URL, CRM_URL and S3_ENDPOINT_URL (defaults: the
local stack `make up` starts) and sends BILLING_TOKEN, or the token `make up` wrote to
.state/billing-token. Exit status: 0 done, 1 a run ended with failed bills, 2 an error.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cli.api import Api, CliError
from cli.progress import follow, summary
from cli.trace import trace
from functions.coordinator import MAX_CUSTOMERS_PER_RUN
from functions.crm_api import MAX_CUSTOMERS_PER_IMPORT, plan_import
from functions.customer_file import customer_rows
from functions.errors import BillingError
from functions.runs import RUN_STATES, STATES
from functions.storage import StoredBill
from functions.storage.keys import bill_file
from runtime.config import ClientSettings
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
        started = [pool.submit(start, chunk) for chunk in _runs_of(customer_ids)]
    return [future.result() for future in started]


def _every_customer(api: Api) -> Iterator[str]:
    for page in api.customer_id_pages():
        yield from page


def _runs_of(customer_ids: Iterable[str]) -> Iterator[list[str]]:
    """The ids in runs of at most the coordinator's limit, each as soon as it is full."""
    chunk: list[str] = []
    for customer_id in customer_ids:
        chunk.append(customer_id)
        if len(chunk) == MAX_CUSTOMERS_PER_RUN:
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
        _table(header, rows)
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
        f"{status['runId']} cancelled at {status['cancelledAt']}: {_counted(status)}"
        " (they end as cancelled)"
    )
    return 0


def _counted(run: dict[str, Any]) -> str:
    counts = run["counts"]
    return f"{counts['billed']} billed, {counts['failed']} failed, {counts['pending']} pending"


def schedule(api: Api, args: argparse.Namespace) -> int:
    planned = api.settings.schedule()
    if planned is None:
        raise CliError(
            "no BILLING_SCHEDULE is set here; set it as the runtime has it, such as"
            " BILLING_SCHEDULE='0 6 1 * *' BILLING_SCHEDULE_TZ=Europe/Amsterdam"
        )
    print(f"{planned.expression} in {planned.zone.key}; the next ticks:")
    for tick in planned.upcoming(datetime.now(UTC), args.count):
        print(f"  {tick:%Y-%m-%d %H:%M %Z}")
    runs, after = api.runs(limit=100)
    while not any("scheduledFor" in run for run in runs) and after is not None:
        runs, after = api.runs(after, 100)
    last = next((run for run in runs if "scheduledFor" in run), None)
    if last is None:
        print("no scheduled run yet")
    else:
        print(
            f"the last scheduled run: {last['runId']} for {last['scheduledFor']},"
            f" {last['state']}: {_counted(last)}"
        )
    return 0


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
        f" {status['total']} customer(s): {_counted(status)}"
    )
    rows = [
        (c["customerIdentifier"], c["state"], c.get("bill") or c.get("reason") or _waiting(c))
        for c in status["customers"]
    ]
    _table(("CUSTOMER", "STATE", "BILL OR REASON"), rows)
    return 0


def _waiting(customer: dict[str, Any]) -> str:
    return "waiting for the CRM's answer" if customer.get("asked") else "queued"


def bills_ls(api: Api, args: argparse.Namespace) -> int:
    bills = _bills(api, args.customer, args.run)
    for bill in bills:
        print(f"{bill.modified:%Y-%m-%d %H:%M:%S} {bill.size:10d} {bill.name}")
    if not bills:
        print("no bills" + (f" for customer {args.customer}" if args.customer else ""))
    return 0


def _bills(api: Api, customer: str | None, run_id: str | None) -> list[StoredBill]:
    prefix = f"{run_id}/" if run_id else ""
    bills = api.bills(prefix)
    if customer is None:
        return list(bills)
    return [bill for bill in bills if bill.name.endswith("/" + bill_file(customer))]


def bills_show(api: Api, args: argparse.Namespace) -> int:
    name = args.bill
    if "/" not in name:
        # A customer id: that customer's latest bill.
        found = sorted(_bills(api, name, None), key=lambda bill: (bill.modified, bill.name))
        if not found:
            raise CliError(f"no bill for customer {name} yet; `billing bills ls` lists them")
        name = found[-1].name
    text = api.bill_text(name)
    if text is None:
        raise CliError(f"there is no bill {name!r}; `billing bills ls` lists them")
    print(f"# {name}")
    print(text)
    return 0


def customers_ls(api: Api, args: argparse.Namespace) -> int:
    header = ("ID", "NAME", "CITY")
    pages = api.customer_pages(args.limit, args.after)
    shown = 0
    for page, more in pages:
        rows = [(c["customerId"], f"{c['firstName']} {c['lastName']}", c["city"]) for c in page]
        _table(header if shown == 0 else None, rows)
        shown += len(rows)
        if not args.all:
            if more:
                print(f"more: billing customers ls --after {page[-1]['customerId']} (or --all)")
            break
    if shown == 0:
        print("no customers")
    return 0


def customers_import(api: Api, args: argparse.Namespace) -> int:
    rows = _valid_rows(Path(args.file))
    started = time.monotonic()
    written_to = 1  # the header line
    for start in range(0, len(rows), args.batch):
        batch = rows[start : start + args.batch]
        try:
            api.import_customers([values for _, values in batch])
        except CliError as exc:
            done = f"lines 2 to {written_to} are imported" if written_to > 1 else "no line is"
            raise CliError(
                f"{exc}; {done}; lines {batch[0][0]} to {batch[-1][0]} may be in part, and"
                f" those after not: import the file again (a row with a customerId replaces"
                f" the customer; one without gets a new id again)"
            ) from None
        written_to = batch[-1][0]
        print(f"\r{start + len(batch)}/{len(rows)} imported", end="", flush=True)
    elapsed = time.monotonic() - started
    print(f"\r{len(rows)} customer(s) imported in {elapsed:.1f}s ({len(rows) / elapsed:.0f}/s)")
    return 0


def _valid_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    """Every row of the file with its line, checked as the CRM will check it: any
    invalid row, and nothing is sent."""
    try:
        text = path.read_text("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {path}: {exc}") from None
    rows = list(customer_rows(text))
    plan = plan_import([values for _, values in rows], [f"{path}:{line}" for line, _ in rows])
    problems = plan.problems
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        raise CliError(f"nothing was imported: {len(problems)} invalid row(s) in {path}")
    if not rows:
        raise CliError(f"{path} has no customers (the first line names the columns)")
    return rows


def _table(header: Sequence[str] | None, rows: Sequence[Sequence[str]]) -> None:
    lines = [header, *rows] if header else list(rows)
    if not lines:
        return
    widths = [max(len(str(row[i])) for row in lines) for i in range(len(lines[0]))]
    for row in lines:
        cells = (str(cell).ljust(width) for cell, width in zip(row, widths, strict=True))
        print("  ".join(cells).rstrip())


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="billing", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    nouns = top.add_subparsers(dest="command", required=True)

    start = nouns.add_parser("run", help="start a billing run")
    start.add_argument("customers", nargs="*", help="customer ids")
    start.add_argument("--all-customers", action="store_true", help="every customer of the CRM")
    start.add_argument("--wait", action="store_true", help="follow it until it is done")
    start.set_defaults(action=run)

    runs = nouns.add_parser("runs", help="billing runs").add_subparsers(dest="verb", required=True)
    list_runs = runs.add_parser("ls", help="the runs, newest first")
    list_runs.add_argument("--state", choices=RUN_STATES, help="only the runs in this state")
    list_runs.add_argument("--limit", type=int, help="runs a page (the coordinator's default: 20)")
    list_runs.add_argument("--after", help="the page after this run (what `more:` says)")
    list_runs.add_argument("--since", help="started at or after, ISO 8601 (2026-12-01)")
    list_runs.add_argument("--until", help="started at or before, ISO 8601")
    list_runs.set_defaults(action=runs_ls)
    retry = runs.add_parser("retry", help="bill the run's failed customers again, in a new run")
    retry.add_argument("run_id")
    retry.add_argument("--wait", action="store_true", help="follow the retry until it is done")
    retry.set_defaults(action=runs_retry)
    cancel = runs.add_parser("cancel", help="cancel a run; its bills stay")
    cancel.add_argument("run_id")
    cancel.set_defaults(action=runs_cancel)
    show_run = runs.add_parser("show", help="how far a run is")
    show_run.add_argument("run_id")
    show_run.add_argument("--state", choices=STATES, help="only the customers in this state")
    show_run.set_defaults(action=runs_show)

    ticks = nouns.add_parser("schedule", help="the billing schedule's next ticks, its last run")
    ticks.add_argument("--count", type=int, default=5, help="ticks to show")
    ticks.set_defaults(action=schedule)

    bills = nouns.add_parser("bills", help="bills in S3").add_subparsers(dest="verb", required=True)
    ls = bills.add_parser("ls", help="list bills")
    ls.add_argument("--customer", help="only this customer's")
    ls.add_argument("--run", help="only this run's")
    ls.set_defaults(action=bills_ls)
    show_bill = bills.add_parser("show", help="print a bill")
    show_bill.add_argument("bill", help="a bill's key, or a customer id for their latest bill")
    show_bill.set_defaults(action=bills_show)

    customers = nouns.add_parser("customers", help="the CRM's customers").add_subparsers(
        dest="verb", required=True
    )
    list_customers = customers.add_parser("ls", help="list customers, a page at a time")
    list_customers.add_argument(
        "--limit", type=int, help="customers a page (the CRM's default: 100)"
    )
    list_customers.add_argument("--after", help="start after this customer id")
    list_customers.add_argument("--all", action="store_true", help="every page, as it comes")
    list_customers.set_defaults(action=customers_ls)
    load = customers.add_parser("import", help="add customers from a CSV file (the lab's format)")
    load.add_argument(
        "file", help="customerId,firstName,lastName,city,connectionId,connectionMandate"
    )
    load.add_argument(
        "--batch", type=int, default=MAX_CUSTOMERS_PER_IMPORT, help="customers a request"
    )
    load.set_defaults(action=customers_import)

    follow_trace = nouns.add_parser("trace", help="a workflow's trace, as a waterfall")
    follow_trace.add_argument("workflow", help="a workflow id, or a customer id (its latest bill)")
    follow_trace.set_defaults(action=lambda api, args: trace(api, args.workflow))
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.action(Api(ClientSettings.from_env()), args))
    except BillingError as exc:
        print(f"billing: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nbilling: interrupted; the run goes on (`billing runs show <run id>`)")
        return 130


if __name__ == "__main__":
    sys.exit(main())
