"""``billing periods show <period>``: a billing period's books, each customer of the CRM
billed in it (its bill and the run that wrote it), failed (why, and in which run) or not
billed, a page at a time in the CRM's id order."""

from __future__ import annotations

import argparse
from typing import Any

from cli.api import Api
from cli.table import table


def periods_show(api: Api, args: argparse.Namespace) -> int:
    shown = 0
    for page in api.period_pages(args.period, args.limit, args.after, args.state):
        if "totals" in page:
            print(totals_line(args.period, page["totals"]))
        rows = [_row(customer) for customer in page["customers"]]
        table(("CUSTOMER", "STATE", "BILL OR REASON", "RUN") if shown == 0 else None, rows)
        shown += len(rows)
        if not args.all:
            if page["next"] is not None:
                print(f"more: {_more(args, page['next'])} (or --all)")
            break
    if shown == 0:
        print(f"no {args.state} customers" if args.state else "no customers")
    return 0


def totals_line(period: str, totals: dict[str, int]) -> str:
    return (
        f"{period}: {totals['customers']} customer(s) of the CRM: {totals['billed']} billed,"
        f" {totals['failed']} failed, {totals['unbilled']} not billed"
    )


def _row(customer: dict[str, Any]) -> tuple[str, str, str, str]:
    return (
        customer["customerIdentifier"],
        customer["state"],
        customer.get("bill") or customer.get("reason") or "",
        customer.get("billedBy") or customer.get("failedIn") or "",
    )


def _more(args: argparse.Namespace, after: str) -> str:
    """The command that shows the next page: this one, after the page's last customer."""
    words = ["billing periods show", args.period]
    words += ["--state", args.state] if args.state else []
    words += ["--limit", str(args.limit)] if args.limit else []
    return " ".join([*words, "--after", after])
