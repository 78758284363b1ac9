"""What the coordinator answers about runs, as typed JSON: ``status.py`` builds these,
mypy holds it to them, and the OpenAPI document describes them (each key's docstring is
its description). Plain TypedDicts: they cost nothing to build, the console and the CLI
read them as they always did, and this module does not import pydantic."""

from __future__ import annotations

from typing import Annotated, Literal, NotRequired, get_args

from typing_extensions import TypedDict

from functions.http.web import Described, documented
from functions.wire.identifiers import BillingPeriodText, CustomerIdText, RunIdText

CustomerState = Literal["pending", "billed", "failed"]
RunState = Literal["running", "done", "cancelled"]
STATES: tuple[CustomerState, ...] = get_args(CustomerState)  # a customer's, in a run
RUN_STATES: tuple[RunState, ...] = get_args(RunState)
RETRY_OF = "a retry's: the run whose failed customers it bills"
LINEAGE = "a retry's: the run its lineage began with, under whose name its bills are written"
PERIOD = (
    "the billing period the run bills: a customer's one bill of it is"
    " `<period>/customer-bill-<customer id>.txt`"
)


@documented
class AcceptedWorkflow(TypedDict):
    customerIdentifier: CustomerIdText
    workflowId: str
    """the workflow's id, `<run id>-<n>`: the key of its every message"""


@documented
class RunAccepted(TypedDict):
    """A run whose every workflow is on workflow-queue."""

    runId: RunIdText
    workflows: list[AcceptedWorkflow]
    """one a customer, but those billed in the run's period already"""
    lineage: NotRequired[Annotated[RunIdText, Described(LINEAGE)]]
    retryOf: NotRequired[Annotated[RunIdText, Described(RETRY_OF)]]
    billingPeriod: NotRequired[Annotated[BillingPeriodText, Described(PERIOD)]]
    billedBefore: NotRequired[
        Annotated[
            list[CustomerIdText],
            Described("the customers billed in the period already: no workflow, no new bill"),
        ]
    ]


@documented
class Counts(TypedDict):
    """The run's customers by state."""

    pending: int
    billed: int
    failed: int


@documented
class ListedRun(TypedDict):
    """A run as a list shows it."""

    # Described, not docstrings: RunStatus extends it and keeps these.
    runId: RunIdText
    createTime: str
    total: Annotated[int, Described("customers in the run")]
    counts: Counts
    state: RunState
    retryOf: NotRequired[Annotated[RunIdText, Described(RETRY_OF)]]
    scheduledFor: NotRequired[
        Annotated[
            str,
            Described(
                "the billing schedule's tick that started the run, as its zone's clock showed"
                " it: 2026-12-01T06:00 Europe/Amsterdam"
            ),
        ]
    ]
    lineage: NotRequired[Annotated[RunIdText, Described(LINEAGE)]]
    billingPeriod: NotRequired[Annotated[BillingPeriodText, Described(PERIOD)]]
    startedBy: NotRequired[
        Annotated[str, Described("who started it: a token's name or a JWT's subject")]
    ]
    billedBefore: NotRequired[
        Annotated[
            int,
            Described("of its customers, those billed in the period before it was planned"),
        ]
    ]


@documented
class CustomerOfRun(TypedDict):
    """A customer of a run, and how far its workflow is."""

    customerIdentifier: CustomerIdText
    workflowId: NotRequired[str | int | float]
    """its workflow; none for a customer billed in the run's period before it was planned"""
    state: CustomerState
    bill: NotRequired[str]
    """the bill's S3 key"""
    reason: NotRequired[str]
    """why it failed"""
    asked: NotRequired[bool]
    """the CRM was asked"""
    billedBefore: NotRequired[bool]
    """billed in the run's period before the run was planned: the run sent no workflow"""
    billedBy: NotRequired[RunIdText]
    """of a customer billed before: the run whose workflow wrote the bill"""


@documented
class RunStatus(ListedRun):
    """How far a run is."""

    published: bool
    """every workflow is on workflow-queue"""
    done: bool
    """nothing pending any more"""
    retries: list[RunIdText]
    """the runs that retried its failures"""
    customers: NotRequired[list[CustomerOfRun]]
    next: NotRequired[int | None]
    """with a limit: the `after` of the next page of customers, null on the last"""
    cancelledAt: NotRequired[str]
    cancelledBy: NotRequired[str]
    """who cancelled it: a token's name or a JWT's subject"""


@documented
class RunList(TypedDict):
    """A page of runs, newest first."""

    runs: list[ListedRun]
    next: RunIdText | None
    """the cursor of the next page (its `after`), null on the last"""
