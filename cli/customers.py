"""``billing customers ls|import``: the CRM's customers a page at a time, and a CSV file's
customers added: every row checked before the first is sent, and an import S3 failed
midway finished by importing the same file again."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from cli.api import Api, CliError
from cli.batches import import_requests
from cli.table import table
from functions.crm.customer_file import customer_rows
from functions.errors import InvalidRequest


def customers_ls(api: Api, args: argparse.Namespace) -> int:
    header = ("ID", "NAME", "CITY")
    pages = api.customer_pages(args.limit, args.after)
    shown = 0
    for page, more in pages:
        rows = [(c["customerId"], f"{c['firstName']} {c['lastName']}", c["city"]) for c in page]
        table(header if shown == 0 else None, rows)
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
    requests = import_requests(rows, args.batch)  # all sized before the first is sent
    started = time.monotonic()
    written_to, sent = 1, 0  # the header line
    for batch in requests:
        try:
            api.import_customers([values for _, values in batch])
        except CliError as exc:
            done = f"lines 2 to {written_to} are imported" if written_to > 1 else "no line is"
            raise CliError(
                f"{exc}; {done}; lines {batch[0][0]} to {batch[-1][0]} may be in part, and"
                f" those after not. Finish it with `billing customers import {args.file}"
                f" --batch {args.batch}`: the same file cut the same way sends the same"
                f" requests, which the CRM finishes (every row gets the id it got the first"
                f" time, none is stored twice); another --batch would send other requests,"
                f" whose new rows would be stored again"
            ) from None
        written_to, sent = batch[-1][0], sent + len(batch)
        print(f"\r{sent}/{len(rows)} imported", end="", flush=True)
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
    try:
        rows = list(customer_rows(text))
    except InvalidRequest as exc:
        raise CliError(f"nothing was imported: {path}: {exc}") from None
    # Here, not at the top: the customers' types load pydantic, which no other command needs.
    from functions.crm.customer_bodies import plan_import

    plan = plan_import([values for _, values in rows], [f"{path}:{line}" for line, _ in rows])
    problems = plan.problems
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        rows_refused = len({index for index, _ in plan.invalid + plan.repeated})
        raise CliError(f"nothing was imported: {rows_refused} invalid row(s) in {path}")
    if not rows:
        raise CliError(f"{path} has no customers (the first line names the columns)")
    return rows
