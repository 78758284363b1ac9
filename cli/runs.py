"""``billing run`` and ``billing runs ls|show|retry|cancel``: start runs, follow them and
steer them. A `billing run` posts the runs of a plan kept until all went out
(``run_plans.py``), so the same command run again after a failure bills nobody twice."""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from cli.api import Api, CliError
from cli.progress import follow, summary
from cli.run_plans import FINISHED_UNASKED_WITHIN, Command, Plan, PlanFolder
from cli.table import table
from functions.runs.status import MAX_RUN_SIZE
from functions.storage.keys import bills_of_run, customer_of_bill
from functions.wire.identifiers import safe_key
from runtime.config.tuning import RUNS_POSTED_AT_ONCE

# What the coordinator answers a run request it will never take as it is (a customer id it
# refuses, a run too large): no use keeping its plan to finish.
REFUSED_AS_ASKED = (400, 413)


def run(api: Api, args: argparse.Namespace) -> int:
    command = _command(api.settings.coordinator_address, args)
    plans = PlanFolder(api.settings.billing_state_path)
    plans.ready()  # before the CRM is read: reading 100,000 ids takes a while
    if args.new:
        _forget(plans, command)
    run_ids: list[str] = []
    plan = plans.read(command)
    if plan is not None:
        _finishing(plan, args.resume)
        run_ids = _post(api, plan, plans, command)
        plans.forget(command, plan)
        if command.period is None or not (command.all_customers or command.unbilled):
            return _followed(api, run_ids) if args.wait else _follow_hint(run_ids[0])
        # A period keeps each customer to one bill: the customers the CRM has now are billed
        # too (those added since the plan began), as the command asks.
    customer_ids = _customers(api, args)
    if customer_ids:
        plan = plans.write(command, Plan.new(command, list(runs_of(customer_ids))))
        run_ids += _post(api, plan, plans, command)
        plans.forget(command, plan)
    elif not run_ids:
        print(f"every customer of the CRM is billed in {args.period}; nothing to bill")
        return 0
    return _followed(api, run_ids) if args.wait else _follow_hint(run_ids[0])


def _finishing(plan: Plan, asked: bool) -> None:
    """Say that the command finishes its unfinished plan; one begun long ago only if asked."""
    if plan.age >= FINISHED_UNASKED_WITHIN and not asked:
        raise CliError(
            f"an unfinished `{plan.command}` begun at {plan.began} waits: give --resume to"
            " finish it (its runs that went out are not started again), or --new to forget it"
            " and start afresh"
        )
    print(
        f"finishing the `{plan.command}` begun at {plan.began}: its {len(plan.runs)} run(s)"
        f" of {plan.customers} customer(s) are posted again with the same keys, so those"
        " that went out are not started again (--new starts afresh)",
        flush=True,
    )


def _command(coordinator: str, args: argparse.Namespace) -> Command:
    """The command's choice of customers, checked before anything is read or sent."""
    if args.unbilled:
        if args.period is None:
            raise CliError(
                "--unbilled needs --period: it bills the customers with no bill in that"
                " period, such as `billing run --period 2026-11 --unbilled`"
            )
        if args.customers or args.all_customers:
            raise CliError(
                "--unbilled chooses the customers itself (those with no bill in the period):"
                " give no customer ids and not --all-customers"
            )
    elif args.all_customers and args.customers:
        raise CliError("give customer ids or --all-customers, not both")
    elif not args.all_customers and not args.customers:
        raise CliError(
            "name the customers to bill (`billing run 1 2 3`) or give --all-customers"
            " (or --period P --unbilled)"
        )
    return Command(
        coordinator.rstrip("/"),
        tuple(args.customers),
        args.all_customers,
        args.unbilled,
        args.period,
    )


def _forget(plans: PlanFolder, command: Command) -> None:
    """--new: the unfinished plan of the same command, if any, forgotten, and what that
    means said."""
    try:
        forgotten = plans.read(command)
    except CliError:  # unreadable: forgotten all the same
        forgotten = None
    plans.forget(command)
    if forgotten is None:
        return
    if command.period is None:
        means = "the customers of its runs that went out are billed again"
    else:
        means = (
            f"its customers still get one bill of {command.period} each (a period keeps them"
            " to one), and those billed in it already are skipped"
        )
    print(f"forgot the unfinished `{forgotten.command}` begun at {forgotten.began}: {means}")


def _customers(api: Api, args: argparse.Namespace) -> list[str]:
    """The customers to bill: as given, or the CRM's, or those with no bill in the period."""
    if not (args.all_customers or args.unbilled):
        return list(args.customers)
    # Every id is read before the first run is posted: once billing starts, it takes the
    # CPU that reading the rest would need (100,000 ids: 14 s before, 60 s and more after).
    every = [customer_id for page in api.customer_id_pages() for customer_id in page]
    if not every:
        raise CliError("the CRM knows no customers; add one with POST /customers")
    if not args.unbilled:
        return every
    # A bill's name holds its customer as keys hold it: compared so, sent as the CRM has it.
    billed = {customer_of_bill(bill.name) for bill in api.bills(bills_of_run(args.period))}
    unbilled = [customer_id for customer_id in every if safe_key(customer_id) not in billed]
    if unbilled:
        print(
            f"{len(unbilled)} of the CRM's {len(every)} customer(s) have no bill in {args.period}",
            flush=True,
        )
    return unbilled


def _post(api: Api, plan: Plan, plans: PlanFolder, command: Command) -> list[str]:
    """Every run of the plan posted with its key, a few at once; their ids, or one error
    saying how far it got and how to finish it."""

    def start(number: int, customers: tuple[str, ...]) -> str:
        answer, replayed = api.start_keyed_run(list(customers), plan.period, plan.run_key(number))
        print(started(answer, plan.period, replayed), flush=True)
        run_id: str = answer["runId"]
        return run_id

    with ThreadPoolExecutor(RUNS_POSTED_AT_ONCE) as pool:
        posted = [pool.submit(start, n, run) for n, run in enumerate(plan.runs, start=1)]
    run_ids, errors = [], []
    for future in posted:
        try:
            run_ids.append(future.result())
        except CliError as exc:
            errors.append(exc)
    if not errors:
        return run_ids
    if not run_ids and all(error.status in REFUSED_AS_ASKED for error in errors):
        # The request itself is refused: the same command would be refused again.
        plans.forget(command, plan)
        raise errors[0]
    if any(error.status == 422 for error in errors):
        raise CliError(
            f"{errors[0]}; {len(run_ids)} of the {len(plan.runs)} run(s) went out. The plan"
            f" of `{command}` cannot be finished: give --new to forget it and start afresh"
        )
    raise CliError(
        f"{errors[0]}; {len(run_ids)} of the {len(plan.runs)} run(s) went out. Run"
        f" `{command}` again to finish it: it sends the same runs with the same keys, so"
        " the runs that went out are not started again"
    )


def started(answer: dict[str, Any], period: str | None, replayed: bool) -> str:
    """A run the coordinator accepted, in a line: its customers on their way, and those
    its period billed already."""
    line = f"{answer['runId']}: {len(answer['workflows'])} customer(s) on their way"
    if period is not None:
        line += f", {len(answer.get('billedBefore', []))} billed in {period} already"
    if replayed:
        line += " (it went out before: the same run)"
    return line


def _follow_hint(run_id: str) -> int:
    print(f"follow it with: billing runs show {run_id}")
    return 0


def _followed(api: Api, run_ids: list[str]) -> int:
    began = time.monotonic()
    # Counts only while it runs: reading why each failed is for the summary, once.
    follow(run_ids, lambda run_id: api.run_status(run_id, customers=False))
    elapsed = time.monotonic() - began
    statuses = [api.run_status(run_id, "failed") for run_id in run_ids]
    print(summary(statuses, elapsed, api.settings.bills_bucket))
    return 1 if any(status["counts"]["failed"] for status in statuses) else 0


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
            run.get("startedBy") or ("schedule" if "scheduledFor" in run else ""),
        )
        for run in runs
    ]
    header = (
        "RUN", "STARTED", "STATE", "CUSTOMERS", "BILLED", "FAILED", "PENDING", "RETRY OF", "BY"
    )  # fmt: skip
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
    by = f" by {status['cancelledBy']}" if "cancelledBy" in status else ""
    print(
        f"{status['runId']} cancelled at {status['cancelledAt']}{by}: {counted(status)}"
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
            f" by {status['startedBy']}" if "startedBy" in status else "",
            f" by the schedule ({status['scheduledFor']})" if "scheduledFor" in status else "",
            f", of {status['billingPeriod']}" if "billingPeriod" in status else "",
            f", a retry of {status['retryOf']}" if "retryOf" in status else "",
            f", retried by {', '.join(status['retries'])}" if status.get("retries") else "",
            _cancelled(status),
        ]
    )
    print(
        f"{status['runId']} ({status['state']}, started {status['createTime']}{lineage}):"
        f" {status['total']} customer(s): {counted(status)}"
    )
    rows = [(c["customerIdentifier"], c["state"], _bill_or_reason(c)) for c in status["customers"]]
    table(("CUSTOMER", "STATE", "BILL OR REASON"), rows)
    return 0


def _cancelled(status: dict[str, Any]) -> str:
    if "cancelledAt" not in status:
        return ""
    by = f" by {status['cancelledBy']}" if "cancelledBy" in status else ""
    return f", cancelled at {status['cancelledAt']}{by}"


def _bill_or_reason(customer: dict[str, Any]) -> str:
    if customer.get("billedBefore"):
        by = f" by {customer['billedBy']}" if "billedBy" in customer else ""
        return f"{customer['bill']} (billed before{by})"
    return customer.get("bill") or customer.get("reason") or _waiting(customer)


def _waiting(customer: dict[str, Any]) -> str:
    return "waiting for the CRM's answer" if customer.get("asked") else "queued"
