"""How a job of a cancelled run ends: as failed with the reason ``cancelled``, unless its
customer's bill of the lineage exists already (written before the cancel, or by a batch
that read the run as running). A billed customer stays billed: a workflow or an answer
delivered again after the cancel changes no run's counts."""

from __future__ import annotations

from functions.context import FunctionContext
from functions.storage import CANCELLED, Job


def end_as_cancelled(job: Job, context: FunctionContext, at: str) -> None:
    """One read of the bill (a cancelled run's jobs only), then the failure, if unbilled."""
    if context.bills.billed_at(job.bill_name) is None:
        context.failures.record(job, CANCELLED, at)
