"""billing: start billing runs, follow them, and read their bills.

    billing run 1 2 3 [--wait]          bill these customers
    billing run --all-customers --wait  bill every customer the CRM knows, and follow it
    billing runs show <run id>          how far a run is, customer by customer
    billing bills ls [--customer N] [--run <run id>]
    billing bills show <bill key | customer id>
    billing customers ls

It finds the stack through COORDINATOR_URL, CRM_URL and S3_ENDPOINT_URL (defaults: the
local stack `make up` starts) and sends BILLING_TOKEN, or the token `make up` wrote to
.state/billing-token. Exit status: 0 done, 1 a run ended with failed bills, 2 an error.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import Any

from cli.api import Api, CliError
from cli.progress import follow, summary
from functions.bills import bill_file
from functions.coordinator import MAX_CUSTOMERS_PER_RUN
from functions.errors import BillingError
from functions.runs import STATES
from functions.storage import StoredBill
from runtime.config import client_settings


def run(api: Api, args: argparse.Namespace) -> int:
    if args.all_customers and args.customers:
        raise CliError("give customer ids or --all-customers, not both")
    if not args.all_customers and not args.customers:
        raise CliError("name the customers to bill (`billing run 1 2 3`) or give --all-customers")
    customer_ids = args.customers or [c["customerId"] for c in api.customers()]
    if not customer_ids:
        raise CliError("the CRM knows no customers; add one with POST /customers")
    run_ids = []
    for start in range(0, len(customer_ids), MAX_CUSTOMERS_PER_RUN):
        chunk = customer_ids[start : start + MAX_CUSTOMERS_PER_RUN]
        accepted = api.start_run(chunk)
        run_ids.append(accepted["runId"])
        print(f"{accepted['runId']}: {len(chunk)} customer(s) on their way", flush=True)
    if not args.wait:
        print(f"follow it with: billing runs show {run_ids[0]}")
        return 0
    started = time.monotonic()
    # Counts only while it runs: reading why each failed is for the summary, once.
    follow(run_ids, lambda run_id: api.run_status(run_id, customers=False))
    elapsed = time.monotonic() - started
    statuses = [api.run_status(run_id, "failed") for run_id in run_ids]
    print(summary(statuses, elapsed, api.settings.bills_bucket))
    return 1 if any(status["counts"]["failed"] for status in statuses) else 0


def runs_show(api: Api, args: argparse.Namespace) -> int:
    status = api.run_status(args.run_id, args.state)
    counts = status["counts"]
    state = "done" if status["done"] else "in progress"
    print(
        f"{status['runId']} ({state}, started {status['createTime']}): {status['total']}"
        f" customer(s): {counts['billed']} billed, {counts['failed']} failed,"
        f" {counts['pending']} pending"
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


def customers_ls(api: Api, _args: argparse.Namespace) -> int:
    rows = [
        (c["customerId"], f"{c['firstName']} {c['lastName']}", c["city"]) for c in api.customers()
    ]
    _table(("ID", "NAME", "CITY"), rows)
    return 0


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
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
    show_run = runs.add_parser("show", help="how far a run is")
    show_run.add_argument("run_id")
    show_run.add_argument("--state", choices=STATES, help="only the customers in this state")
    show_run.set_defaults(action=runs_show)

    bills = nouns.add_parser("bills", help="bills in S3").add_subparsers(dest="verb", required=True)
    ls = bills.add_parser("ls", help="list bills")
    ls.add_argument("--customer", help="only this customer's")
    ls.add_argument("--run", help="only this run's")
    ls.set_defaults(action=bills_ls)
    show_bill = bills.add_parser("show", help="print a bill")
    show_bill.add_argument("bill", help="a bill's key, or a customer id for their latest bill")
    show_bill.set_defaults(action=bills_show)

    customers = nouns.add_parser("customers", help="the CRM's customers")
    customers.add_subparsers(dest="verb", required=True).add_parser(
        "ls", help="list customers"
    ).set_defaults(action=customers_ls)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.action(Api(client_settings()), args))
    except BillingError as exc:
        print(f"billing: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nbilling: interrupted; the run goes on (`billing runs show <run id>`)")
        return 130


if __name__ == "__main__":
    sys.exit(main())
