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

from cli import bills, customers, runs, schedule
from cli.trace import trace
from functions.customers import MAX_CUSTOMERS_PER_IMPORT
from functions.run_answers import RUN_STATES, STATES


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="billing", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    nouns = top.add_subparsers(dest="command", required=True)

    start = nouns.add_parser("run", help="start a billing run")
    start.add_argument("customers", nargs="*", help="customer ids")
    start.add_argument("--all-customers", action="store_true", help="every customer of the CRM")
    start.add_argument("--wait", action="store_true", help="follow it until it is done")
    start.set_defaults(action=runs.run)

    run_verbs = nouns.add_parser("runs", help="billing runs").add_subparsers(
        dest="verb", required=True
    )
    list_runs = run_verbs.add_parser("ls", help="the runs, newest first")
    list_runs.add_argument("--state", choices=RUN_STATES, help="only the runs in this state")
    list_runs.add_argument("--limit", type=int, help="runs a page (the coordinator's default: 20)")
    list_runs.add_argument("--after", help="the page after this run (what `more:` says)")
    list_runs.add_argument("--since", help="started at or after, ISO 8601 (2026-12-01)")
    list_runs.add_argument("--until", help="started at or before, ISO 8601")
    list_runs.set_defaults(action=runs.runs_ls)
    retry = run_verbs.add_parser(
        "retry", help="bill the run's failed customers again, in a new run"
    )
    retry.add_argument("run_id")
    retry.add_argument("--wait", action="store_true", help="follow the retry until it is done")
    retry.set_defaults(action=runs.runs_retry)
    cancel = run_verbs.add_parser("cancel", help="cancel a run; its bills stay")
    cancel.add_argument("run_id")
    cancel.set_defaults(action=runs.runs_cancel)
    show_run = run_verbs.add_parser("show", help="how far a run is")
    show_run.add_argument("run_id")
    show_run.add_argument("--state", choices=STATES, help="only the customers in this state")
    show_run.set_defaults(action=runs.runs_show)

    ticks = nouns.add_parser("schedule", help="the billing schedule's next ticks, its last run")
    ticks.add_argument("--count", type=int, default=5, help="ticks to show")
    ticks.set_defaults(action=schedule.schedule)

    bill_verbs = nouns.add_parser("bills", help="bills in S3").add_subparsers(
        dest="verb", required=True
    )
    ls = bill_verbs.add_parser("ls", help="list bills")
    ls.add_argument("--customer", help="only this customer's")
    ls.add_argument("--run", help="only this run's")
    ls.set_defaults(action=bills.bills_ls)
    show_bill = bill_verbs.add_parser("show", help="print a bill")
    show_bill.add_argument("bill", help="a bill's key, or a customer id for their latest bill")
    show_bill.set_defaults(action=bills.bills_show)

    customer_verbs = nouns.add_parser("customers", help="the CRM's customers").add_subparsers(
        dest="verb", required=True
    )
    list_customers = customer_verbs.add_parser("ls", help="list customers, a page at a time")
    list_customers.add_argument(
        "--limit", type=int, help="customers a page (the CRM's default: 100)"
    )
    list_customers.add_argument("--after", help="start after this customer id")
    list_customers.add_argument("--all", action="store_true", help="every page, as it comes")
    list_customers.set_defaults(action=customers.customers_ls)
    load = customer_verbs.add_parser(
        "import", help="add customers from a CSV file (the lab's format)"
    )
    load.add_argument(
        "file", help="customerId,firstName,lastName,city,connectionId,connectionMandate"
    )
    load.add_argument(
        "--batch",
        type=_batch_size,
        default=MAX_CUSTOMERS_PER_IMPORT,
        help=f"customers a request at most, 1 to {MAX_CUSTOMERS_PER_IMPORT}",
    )
    load.set_defaults(action=customers.customers_import)

    follow_trace = nouns.add_parser("trace", help="a workflow's trace, as a waterfall")
    follow_trace.add_argument("workflow", help="a workflow id, or a customer id (its latest bill)")
    follow_trace.set_defaults(action=lambda api, args: trace(api, args.workflow))
    return top


def _batch_size(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_CUSTOMERS_PER_IMPORT:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number of customers from 1 to {MAX_CUSTOMERS_PER_IMPORT}"
        )
    return int(text)
