"""Following runs until every bill exists or has failed: a progress bar, then a summary."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from runtime.config.tuning import FOLLOW_POLL_S, STALL_WARNING_S

Status = dict[str, Any]
BAR_WIDTH = 30


@dataclass
class Totals:
    billed: int = 0
    failed: int = 0
    pending: int = 0
    billed_before: int = 0  # of the billed: in the runs' period before they were planned

    @property
    def total(self) -> int:
        return self.billed + self.failed + self.pending

    @classmethod
    def of(cls, statuses: Sequence[Status]) -> Totals:
        return cls(
            billed=sum(s["counts"]["billed"] for s in statuses),
            failed=sum(s["counts"]["failed"] for s in statuses),
            pending=sum(s["counts"]["pending"] for s in statuses),
            billed_before=sum(s.get("billedBefore", 0) for s in statuses),
        )


def bar(totals: Totals, elapsed_s: float) -> str:
    """The bar, the counts, the rate and, while bills come, the time left (tqdm's)."""
    from tqdm import tqdm  # imported once a bar is drawn: `billing --help` stays quick

    done, total = totals.billed + totals.failed, totals.total
    # The rate of the bills these runs write: those of the period before came for free.
    written = totals.billed - totals.billed_before
    rate = written / elapsed_s if elapsed_s > 0 else 0.0
    counts = (
        f"{totals.billed}/{total} billed, {totals.failed} failed, {totals.pending} pending"
        f"  {rate:.1f} bills/s"
    )
    left = ", {remaining} left" if 0 < done < total else ""
    return tqdm.format_meter(
        done if total else 1,
        total or 1,
        elapsed_s,
        ascii=".#",
        bar_format=f"[{{bar:{BAR_WIDTH}}}] {{percentage:3.0f}}%  {counts}{left}",
    )


def follow(
    run_ids: Sequence[str],
    status_of: Callable[[str], Status],
    out: TextIO = sys.stderr,
    poll_s: float = FOLLOW_POLL_S,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Status]:
    """Poll every run until none has anything pending; the last status of each."""
    started = last_change = clock()
    interactive = out.isatty()
    last_line_at = -1e9
    previous: Totals | None = None
    warned = False
    while True:
        statuses = [status_of(run_id) for run_id in run_ids]
        totals = Totals.of(statuses)
        now = clock()
        finished = all(status["done"] for status in statuses)
        if totals != previous:
            previous, last_change = totals, now
        line = bar(totals, now - started)
        if interactive:
            out.write("\r" + line + ("\n" if finished else ""))
            out.flush()
        elif finished or now - last_line_at >= 10:
            out.write(line + "\n")
            last_line_at = now
        if finished:
            return statuses
        if not warned and now - last_change >= STALL_WARNING_S:
            out.write(
                f"\nno progress for {STALL_WARNING_S:.0f}s: is the runtime running?"
                " (`make status`; `make logs` shows its log)\n"
            )
            warned = True
        sleep(poll_s)


def summary(statuses: Sequence[Status], elapsed_s: float, bills_bucket: str) -> str:
    totals = Totals.of(statuses)
    # A run of a period counts as billed its customers the period had billed already.
    before = sum(status.get("billedBefore", 0) for status in statuses)
    lines = [
        f"{len(statuses)} run(s) done in {elapsed_s:.1f}s: {totals.billed} billed,"
        f" {totals.failed} failed" + (f" ({before} of them billed before)" if before else "")
    ]
    for status in statuses:
        # A run's bills are in its period's folder, or its lineage's, or its own.
        folder = status.get("billingPeriod") or status.get("lineage") or status["runId"]
        lines.append(f"  {status['runId']}: bills in s3://{bills_bucket}/{folder}/")
        for customer in status["customers"]:
            if customer["state"] == "failed":
                lines.append(
                    f"    customer {customer['customerIdentifier']} failed: {customer['reason']}"
                )
    return "\n".join(lines)
