"""``billing bills ls|show``: the bills in S3, and a bill's text."""

from __future__ import annotations

import argparse

from cli.api import Api, CliError
from functions.storage import StoredBill
from functions.storage.keys import bill_file


def bills_ls(api: Api, args: argparse.Namespace) -> int:
    bills = bills_of(api, args.customer, args.run)
    for bill in bills:
        print(f"{bill.modified:%Y-%m-%d %H:%M:%S} {bill.size:10d} {bill.name}")
    if not bills:
        print("no bills" + (f" for customer {args.customer}" if args.customer else ""))
    return 0


def bills_of(api: Api, customer: str | None, run_id: str | None) -> list[StoredBill]:
    """The bills `billing bills ls` lists: a run's (a retry's among its lineage's, a period's
    run's among the period's), a customer's."""
    bills = list(api.bills(f"{run_id}/" if run_id else ""))
    if run_id is not None and not bills:
        # A retry's bills are named under its lineage's first run, a period's run's under
        # the period: its customers' there.
        status = api.run_status(run_id, "billed")
        names = {c["bill"] for c in status["customers"]}
        if folder := status.get("billingPeriod") or status.get("lineage"):
            bills = [bill for bill in api.bills(f"{folder}/") if bill.name in names]
    if customer is None:
        return bills
    return [bill for bill in bills if bill.name.endswith("/" + bill_file(customer))]


def bills_show(api: Api, args: argparse.Namespace) -> int:
    name = args.bill
    if "/" not in name:
        # A customer id: that customer's latest bill.
        found = sorted(bills_of(api, name, None), key=lambda bill: (bill.modified, bill.name))
        if not found:
            raise CliError(f"no bill for customer {name} yet; `billing bills ls` lists them")
        name = found[-1].name
    text = api.bill_text(name)
    if text is None:
        raise CliError(f"there is no bill {name!r}; `billing bills ls` lists them")
    print(f"# {name}")
    print(text)
    return 0
