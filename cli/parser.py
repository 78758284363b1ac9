"""billing: start billing runs, follow them, and read their bills.

    billing run 1 2 3 [--wait]          bill these customers
    billing run --all-customers --wait  bill every customer the CRM knows, and follow it
    billing run --all-customers --period 2026-11   a bill each of the period, at most
    billing run --period 2026-11 --unbilled        bill those with no bill in the period
    billing run ... --new               forget the unfinished run of the same command (a
                                        failed `billing run` is finished by running it again)
    billing runs ls [--state S] [--limit N] [--since T] [--until T]   the runs, newest first
    billing runs show <run id>          how far a run is, customer by customer
    billing runs retry <run id> [--wait]  bill the run's failed customers again
    billing runs cancel <run id>        stop a run: its pending customers fail as cancelled
    billing schedule [--count N]        BILLING_SCHEDULE's next ticks, and its last run
    billing periods show <period> [--state S] [--limit N] [--after ID] [--all]
                                        a period's books: each customer billed, failed or not
    billing bills ls [--customer N] [--run <run id>]
    billing bills show <bill key | customer id>
    billing customers ls [--limit N] [--after ID] [--all]
    billing customers import FILE.csv   the lab's customer file format: every row checked
                                        first; should S3 fail midway, the same file again
                                        finishes it
    billing trace <customer id | workflow id>  a workflow's trace (`make up TRACES=1`)
    billing tokens add NAME --role viewer|operator|admin   a named token, printed once
    billing tokens ls                   the named tokens: roles, made and revoked when
    billing tokens revoke NAME          refused everywhere within 30 s
    billing audit ls [--run R] [--who NAME] [--since T] [--until T]   who asked for each
                                        change, and what came of it, newest first

A period is a calendar day, month, quarter or year: 2026-12-06, 2026-12, 2026-Q4, 2026.

It finds the stack through COORDINATOR_URL, CRM_URL and S3_ENDPOINT_URL (defaults: the
local stack `make up` starts) and sends BILLING_TOKEN, or the token `make up` wrote to
.state/billing-token (an admin's, named local-admin). A viewer's token reads; an operator's
also starts, retries and cancels runs; an admin's also changes customers and manages
tokens. It keeps the plan of an unfinished `billing run` in BILLING_STATE_DIR
(default: $XDG_STATE_HOME/billing, or ~/.local/state/billing). Exit status: 0 done, 1 a run
ended with failed bills, 2 an error.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from cli import audit, bills, customers, periods, runs, schedule, tokens
from cli.trace import trace
from functions.access import MAX_NAME, NAME_PATTERN, NAME_RULE, ROLE_NAMES
from functions.audit.entries import MOST_A_PAGE as AUDIT_MOST_A_PAGE
from functions.crm.customers import MAX_CUSTOMERS_PER_IMPORT
from functions.runs.answers import RUN_STATES, STATES
from functions.runs.listing import MOST_A_PAGE as RUNS_MOST_A_PAGE
from functions.runs.period_books import BOOK_STATES
from functions.runs.period_books import MOST_A_PAGE as BOOKS_MOST_A_PAGE
from functions.wire.billing_period import PERIOD_FORMS, BillingPeriod

# The CRM's page size bounds (functions/crm/api.py: ``limit`` of its listings).
CUSTOMERS_MOST_A_PAGE = 500


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="billing", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    nouns = top.add_subparsers(dest="command", required=True)

    start = nouns.add_parser(
        "run",
        help="start a billing run",
        description="Starts a run of the customers (a run per 10,000). Its plan, the runs and"
        " the key each is sent with, is kept until every run went out: should one fail, run"
        " the same command again to finish it; the runs that went out are not started again."
        " A plan begun a day ago or more is finished only with --resume (or forgotten with"
        " --new). With --period and --all-customers or --unbilled, a finished plan is followed"
        " by the customers the CRM has with no bill in the period yet.",
    )
    start.add_argument("customers", nargs="*", help="customer ids")
    start.add_argument("--all-customers", action="store_true", help="every customer of the CRM")
    start.add_argument(
        "--period",
        type=_period,
        help="the billing period billed (2026-11, 2026-11-30, 2026-Q4, 2026): a customer gets"
        " one bill of it at most, and those billed in it already are skipped",
    )
    start.add_argument(
        "--unbilled",
        action="store_true",
        help="every customer of the CRM with no bill in --period",
    )
    start.add_argument(
        "--new",
        action="store_true",
        help="forget the unfinished run of this same command and start afresh: the customers"
        " of its runs that went out are billed again, unless a --period keeps them to one bill",
    )
    start.add_argument(
        "--resume",
        action="store_true",
        help="finish the unfinished run of this same command, however long ago it began (one"
        " begun a day ago or more is not finished without it)",
    )
    start.add_argument("--wait", action="store_true", help="follow it until it is done")
    start.set_defaults(action=runs.run)

    run_verbs = nouns.add_parser("runs", help="billing runs").add_subparsers(
        dest="verb", required=True
    )
    list_runs = run_verbs.add_parser("ls", help="the runs, newest first")
    list_runs.add_argument("--state", choices=RUN_STATES, help="only the runs in this state")
    list_runs.add_argument(
        "--limit",
        type=_page_size(RUNS_MOST_A_PAGE, "runs"),
        help=f"runs a page, 1 to {RUNS_MOST_A_PAGE} (the coordinator's default: 20)",
    )
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

    period_verbs = nouns.add_parser("periods", help="billing periods").add_subparsers(
        dest="verb", required=True
    )
    show_period = period_verbs.add_parser(
        "show", help="a period's books: each customer of the CRM billed, failed or not billed"
    )
    show_period.add_argument("period", type=_period, help="2026-11, 2026-11-30, 2026-Q4, 2026")
    show_period.add_argument("--state", choices=BOOK_STATES, help="only the customers in it")
    _customer_pages(show_period, BOOKS_MOST_A_PAGE, "the coordinator")
    show_period.set_defaults(action=periods.periods_show)

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
    _customer_pages(list_customers, CUSTOMERS_MOST_A_PAGE, "the CRM")
    list_customers.set_defaults(action=customers.customers_ls)
    load = customer_verbs.add_parser(
        "import",
        help="add customers from a CSV file (the lab's format)",
        description="Adds the customers of a CSV file in the lab's format. Every row is checked"
        " before the first request is sent, so a file with a bad row imports nothing. Should S3"
        " fail midway, the file is imported in part: import the same file again, with the same"
        " --batch, to finish it; every row keeps the id it got the first time, none is stored"
        " twice.",
    )
    load.add_argument(
        "file", help="customerId,firstName,lastName,city,connectionId,connectionMandate"
    )
    load.add_argument(
        "--batch",
        type=_page_size(MAX_CUSTOMERS_PER_IMPORT, "customers"),
        default=MAX_CUSTOMERS_PER_IMPORT,
        help=f"customers a request at most, 1 to {MAX_CUSTOMERS_PER_IMPORT}",
    )
    load.set_defaults(action=customers.customers_import)

    follow_trace = nouns.add_parser("trace", help="a workflow's trace, as a waterfall")
    follow_trace.add_argument("workflow", help="a workflow id, or a customer id (its latest bill)")
    follow_trace.set_defaults(action=lambda api, args: trace(api, args.workflow))

    token_verbs = nouns.add_parser(
        "tokens", help="named tokens and their roles (an admin's token only)"
    ).add_subparsers(dest="verb", required=True)
    add_token = token_verbs.add_parser(
        "add",
        help="make a named token; it is printed once",
        description="Makes a token named NAME of ROLE and prints it, this once: only its"
        " SHA-256 digest is kept. viewer: reads runs, bills, customers, periods; operator:"
        " also starts, retries and cancels runs; admin: also changes customers and manages"
        " tokens. A name is never given to another token, even once revoked.",
    )
    add_token.add_argument("name", type=_token_name, help=NAME_RULE)
    add_token.add_argument("--role", required=True, choices=ROLE_NAMES)
    add_token.set_defaults(action=tokens.tokens_add)
    list_tokens = token_verbs.add_parser("ls", help="the named tokens, never the tokens")
    list_tokens.set_defaults(action=tokens.tokens_ls)
    revoke = token_verbs.add_parser("revoke", help="revoke a named token")
    revoke.add_argument("name", type=_token_name)
    revoke.set_defaults(action=tokens.tokens_revoke)

    audit_verbs = nouns.add_parser(
        "audit", help="who asked for each change, and what came of it (an operator's token)"
    ).add_subparsers(dest="verb", required=True)
    list_audit = audit_verbs.add_parser(
        "ls",
        help="the audit trail, newest first",
        description="Every request that may change state (a run started, retried or"
        " cancelled, a customer or a token changed), and every refusal of one for its role:"
        " who asked, what, when, and what came of it.",
    )
    list_audit.add_argument("--run", help="only the records about this run")
    list_audit.add_argument("--who", help="only this caller's: a token's name, a JWT's subject")
    list_audit.add_argument("--since", help="made at or after, ISO 8601 (2026-12-01)")
    list_audit.add_argument("--until", help="made at or before, ISO 8601")
    list_audit.add_argument(
        "--limit",
        type=_page_size(AUDIT_MOST_A_PAGE, "records"),
        help=f"records a page, 1 to {AUDIT_MOST_A_PAGE} (the coordinator's default: 50)",
    )
    list_audit.add_argument("--after", help="the page after this record (what `more:` says)")
    list_audit.set_defaults(action=audit.audit_ls)
    return top


def _token_name(text: str) -> str:
    if len(text) > MAX_NAME or NAME_PATTERN.fullmatch(text) is None:
        raise argparse.ArgumentTypeError(f"{text[:80]!r} is not a token name: {NAME_RULE}")
    return text


def _customer_pages(command: argparse.ArgumentParser, most: int, server: str) -> None:
    """--limit, --after and --all of a listing of customers, a page at a time."""
    command.add_argument(
        "--limit",
        type=_page_size(most, "customers"),
        help=f"customers a page, 1 to {most} ({server}'s default: 100)",
    )
    command.add_argument("--after", help="start after this customer id (what `more:` says)")
    command.add_argument("--all", action="store_true", help="every page, as it comes")


def _page_size(most: int, what: str) -> Callable[[str], int]:
    """A count from 1 to ``most``, checked as the command line is read: anything else is a
    usage error before any request (the servers would refuse it, or take another)."""

    def size(text: str) -> int:
        if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= most:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of {what} from 1 to {most}")
        return int(text)

    return size


def _period(text: str) -> str:
    if not BillingPeriod.is_one(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a billing period; {PERIOD_FORMS}")
    return text
