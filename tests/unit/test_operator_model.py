"""The operator actions keep the engine's promise, over random sequences of them.

hypothesis drives a whole system (``operator_world.py``) through starts (with a billing
period and without, with an Idempotency-Key and without), re-posts after each kind of 503,
`billing run` run again after a 503 stopped it midway (``operator_clients.py``), cancels,
retries, ticks of the billing schedule (across a period's end, and a tick an earlier version
stopped in), imports and new customers, while records are delivered late, in batches that
read the cancels before the latest, and again; S3 and Kafka writes fail when the model says
so. Every request is sent by an actor with a named token (``operator_actors.py``), mostly of
the role it needs, sometimes of the one below. Each answer keeps its promise (a 503
published nothing, a 403 did nothing). After every step:

- no customer has two bills within one billing period, nor two bills or two pending
  workflows within one run lineage (a run and its retries) without one, and a run of a
  period bills only into its period; no customer is in two runs of one tick;
- a tick the scheduler counts as handled holds every customer the CRM had when it began;
- every state change has exactly one audit record, naming its actor, and every run no tick
  started was started by an actor who may start runs;
- an import the CRM answered for is visible whole, each new customer once; one it failed
  is visible whole once asked again, never twice;
- once everything is delivered and every question has had its chances, every customer of
  every run Kafka took has a bill or a failure, every such run is settled (done or
  cancelled), and no run Kafka refused is listed as running.

Where it runs: the four machines keep their buckets in memory (``FaultyBuckets``, in
``operator_faults.py``), a fraction of a second a sequence; MODEL_ON_S3=1 runs them on moto.
``test_operator_actions_keep_the_promise_on_s3`` always runs the whole model on moto, S3's
faults in boto3's requests, MODEL_S3_EXAMPLES sequences (3 unless set; `make model` 100).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING

import boto3
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from moto import mock_aws

from functions.errors import BillingError
from functions.runs.scheduled_billing import bill_on_schedule
from functions.wire.messages import Stream
from tests.unit.operator_actors import ADMIN_CALL, OPERATOR_CALL, Actors
from tests.unit.operator_checks import (
    bills_once_a_period_and_a_lineage,
    runs_kafka_took_are_settled,
    ticks_bill_their_customers_once,
)
from tests.unit.operator_clients import Clients, CrmClients, CrmRequest, customer, post_of
from tests.unit.operator_faults import one_thread
from tests.unit.operator_view import Observed
from tests.unit.operator_world import World, model_settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

SCHEDULE_PAGE = 3  # customers a scheduled run holds, so that a tick spans a few runs
UNKNOWN = "99"  # a customer the CRM never has: its job fails
# Ids an import gives: before, among and after the lab's eight (1 to 8) in the CRM's order.
GIVEN_IDS = st.sampled_from(("0", "2", "5", "9", "10", "11"))
STALE = st.booleans()
RUN_CHOICE = st.integers(0, 3)
# The periods a run bills: the days the scheduler's ticks fall in (it bills a day a tick),
# or none; the keys clients send.
PERIODS = st.sampled_from((None, "2026-12-01", "2026-12-02"))
KEYS = st.sampled_from((None, "key-1", "key-2"))
CUSTOMERS = st.lists(st.sampled_from(("1", "2", "5", UNKNOWN)), min_size=1, max_size=3, unique=True)
CLI_CUSTOMERS = st.lists(
    st.sampled_from(("1", "2", "3", "5", UNKNOWN)), min_size=1, max_size=5, unique=True
)
# The rules a test runs, all unless it focuses (a deep run too: MODEL_RULES=retry,cancel,...).
_FOCUS: list[frozenset[str]] = [
    frozenset(os.environ["MODEL_RULES"].split(","))
    if os.environ.get("MODEL_RULES")
    else frozenset()
]
STEERING = frozenset(
    {
        *("start_run", "cancel", "retry", "retry_again", "deliver", "deliver_again"),
        *("look_at_cancels", "sweep", "s3_write_fails", "kafka_refuses", "settle"),
    }
)
CRM_AND_SCHEDULE = frozenset(
    {
        *("tick", "add_customer", "import_customers", "send_again", "s3_write_fails"),
        *("kafka_refuses", "deliver", "settle", "earlier_version_stopped_in_a_tick"),
    }
)
PERIODS_AND_REPOSTS = frozenset(
    {
        *("start_run", "post_again", "cli_run", "cli_rerun", "retry", "tick", "deliver"),
        *("deliver_again", "sweep", "s3_write_fails", "kafka_refuses", "settle", "cancel"),
    }
)


def enabled(name: str) -> bool:
    return not _FOCUS[0] or name in _FOCUS[0]


class OperatorModel(RuleBasedStateMachine):
    s3: S3Client | None = None  # None: the buckets in memory

    def __init__(self) -> None:
        super().__init__()
        self.bucket_tag = uuid.uuid4().hex[:8]
        self.settings = model_settings(self.bucket_tag)
        if self.s3 is not None:
            for bucket in self.settings.all_buckets:
                self.s3.create_bucket(Bucket=bucket)
        self.world = World(self.settings, SCHEDULE_PAGE, self.s3)
        self.seen = Observed(self.world, self.settings)
        self.actors = Actors(self.world, self.settings)
        self.clients = Clients(self.actors, self.settings.jobs_bucket)
        self.crm = CrmClients(self.actors)
        self.settled_runs: set[str] = set()  # seen done or cancelled: for good
        self.ticks_begun: dict[str, set[str]] = {}  # tick -> the CRM's customers then

    def teardown(self) -> None:
        self.world.close()

    @initialize()
    def seed(self) -> None:
        self.actors.seed()
        self.world.services.seeded_customers()  # the lab's eight, as the CRM starts
        self.start_run(["1", "2", "5"], None, None, "ann")  # a run to steer from the start

    # -- operator actions -----------------------------------------------------------

    @precondition(lambda self: enabled("start_run"))
    @rule(customers=CUSTOMERS, period=PERIODS, key=KEYS, actor=OPERATOR_CALL)
    def start_run(
        self, customers: list[str], period: str | None, key: str | None, actor: str
    ) -> None:
        self.clients.post(post_of(customers, period, key, actor))

    @precondition(lambda self: self.clients.refused)
    @precondition(lambda self: enabled("post_again"))
    @rule(which=RUN_CHOICE)
    def post_again(self, which: int) -> None:
        """A client told 503 (Kafka refused, or S3 failed) sends the same request again."""
        self.clients.post_again(which)

    @precondition(lambda self: enabled("cli_run"))
    @rule(customers=CLI_CUSTOMERS, period=PERIODS, actor=OPERATOR_CALL)
    def cli_run(self, customers: list[str], period: str | None, actor: str) -> None:
        self.clients.cli_run(customers, period, f"plan-{len(self.clients.plans)}", actor)

    @precondition(lambda self: any(p.unfinished for p in self.clients.plans))
    @precondition(lambda self: enabled("cli_rerun"))
    @rule()
    def cli_rerun(self) -> None:
        """The same `billing run` again, after a 503 stopped it midway."""
        self.clients.cli_rerun()

    @precondition(lambda self: self.seen.run_ids())
    @precondition(lambda self: enabled("cancel"))
    @rule(which=RUN_CHOICE, actor=OPERATOR_CALL)
    def cancel(self, which: int, actor: str) -> None:
        path = f"/runs/{self.run(which)}/cancel"
        response = self.actors.call(actor, "cancelRun", "coordinator", path)
        assert response.status in (202, 403, 409, 503), response.body

    @precondition(lambda self: self.seen.run_ids())
    @precondition(lambda self: enabled("retry"))
    @rule(which=RUN_CHOICE, actor=OPERATOR_CALL)
    def retry(self, which: int, actor: str) -> None:
        before = len(self.world.publisher.published)
        path = f"/runs/{self.run(which)}/retry"
        response = self.actors.call(actor, "retryRun", "coordinator", path)
        assert response.status in (202, 403, 409, 503), response.body
        if response.status == 503:
            published = self.world.publisher.published[before:]
            assert not published, "a retry answered 503, yet published"

    @precondition(lambda self: self.seen.run_ids())
    @precondition(lambda self: enabled("retry_again"))
    @rule(which=RUN_CHOICE, actor=OPERATOR_CALL)
    def retry_again(self, which: int, actor: str) -> None:
        """An impatient operator: retries come as often as anything else does."""
        self.retry(which, actor)

    def run(self, which: int) -> str:
        """One of the runs published, the earliest the likeliest: an operator steers the
        same few runs again and again."""
        run_ids = self.seen.run_ids()
        return run_ids[which % len(run_ids)]

    @precondition(lambda self: enabled("tick"))
    @rule(again=st.booleans(), next_day=st.booleans())
    def tick(self, again: bool, next_day: bool = False) -> None:
        """The scheduler at the next minute (of the next day, another period), or a second
        scheduler at the same one."""
        world = self.world
        if not again:
            later = timedelta(days=1 if next_day else 0, minutes=1)
            world.now = world.now.replace(second=0, microsecond=0) + later
        due = world.schedule.due(world.now)
        assert due is not None
        self.ticks_begun.setdefault(world.schedule.name(due), set(self.seen.crm_customers()))
        self.check_schedule()

    @precondition(lambda self: enabled("earlier_version_stopped_in_a_tick"))
    @rule()
    def earlier_version_stopped_in_a_tick(self) -> None:
        """A version before the plans began the next minute's tick (page 0 claimed as
        ``schedule:<tick>:0``, published) and stopped; this one is started, and checks."""
        world = self.world
        world.now = world.now.replace(second=0, microsecond=0) + timedelta(minutes=1)
        due = world.schedule.due(world.now)
        assert due is not None
        tick = world.schedule.name(due)
        self.ticks_begun[tick] = set(self.seen.crm_customers())
        world.earlier_version_began(tick)
        self.check_schedule()

    def check_schedule(self) -> None:
        """The scheduler's check: the tick due now, and any begun and not ended."""
        with contextlib.suppress(BillingError):  # tried again at the next check (timers.py)
            bill_on_schedule(self.world.now, self.world.scheduled_billing(), None)

    @precondition(lambda self: enabled("add_customer"))
    @rule(actor=ADMIN_CALL)
    def add_customer(self, actor: str) -> None:
        item = customer("0", city=f"new-{uuid.uuid4().hex[:6]}").to_wire()
        del item["customerId"]
        self.crm.sent.append(CrmRequest([item], single=True, actor=actor))
        self.crm.send(self.crm.sent[-1])

    @precondition(lambda self: enabled("import_customers"))
    @rule(
        given=st.lists(GIVEN_IDS, max_size=3, unique=True), new=st.integers(0, 2), actor=ADMIN_CALL
    )
    def import_customers(self, given: list[str], new: int, actor: str) -> None:
        items = [customer(c, city=f"given-{uuid.uuid4().hex[:6]}").to_wire() for c in given]
        for _ in range(new):
            item = customer("0", city=f"new-{uuid.uuid4().hex[:6]}").to_wire()
            del item["customerId"]
            items.append(item)
        if items:
            self.crm.sent.append(CrmRequest(items, actor=actor))
            self.crm.send(self.crm.sent[-1])

    @precondition(lambda self: any(i.answered == "failed" for i in self.crm.sent))
    @precondition(lambda self: enabled("send_again"))
    @rule()
    def send_again(self) -> None:
        """A client told its create or import failed sends it again."""
        self.crm.send(next(i for i in self.crm.sent if i.answered == "failed"))

    # -- the engine, and faults -----------------------------------------------------

    @precondition(lambda self: enabled("deliver"))
    @rule(stream=st.sampled_from(Stream), count=st.integers(1, 4), stale=STALE)
    def deliver(self, stream: Stream, count: int, stale: bool) -> None:
        self.world.deliver(stream, count, stale)

    @precondition(lambda self: enabled("deliver_again"))
    @rule(stream=st.sampled_from(Stream), index=st.integers(0, 50), stale=STALE)
    def deliver_again(self, stream: Stream, index: int, stale: bool) -> None:
        self.world.redeliver(stream, index, stale)

    @precondition(lambda self: enabled("look_at_cancels"))
    @rule()
    def look_at_cancels(self) -> None:
        self.world.look_at_cancels()

    @precondition(lambda self: enabled("sweep"))
    @rule(minutes=st.sampled_from((0.6, 1.1, 5.0)))
    def sweep(self, minutes: float) -> None:
        self.world.sweep(minutes)

    @precondition(lambda self: enabled("s3_write_fails"))
    @rule(nth=st.integers(1, 8))  # a request's first two: its audit record
    def s3_write_fails(self, nth: int) -> None:
        self.world.faults.arm(nth)

    @precondition(lambda self: enabled("kafka_refuses"))
    @rule()
    def kafka_refuses(self) -> None:
        self.world.publisher.refuse = 1

    @precondition(lambda self: enabled("settle"))
    @rule()
    def settle(self) -> None:
        """Faults over, every record delivered, every question's chances spent: each
        customer of each run Kafka took has a bill or a failure, each such run is settled,
        each tick holds its customers."""
        world = self.world
        with world.faults_off():
            for sent in [i for i in self.crm.sent if i.answered == "failed"]:
                self.crm.send(sent)
            self.imports_are_whole_and_once()
            self.check_schedule()  # a later check finishes every tick begun
            ended = self.seen.ticks_ended(list(self.ticks_begun))
            open_ = [
                name
                for name in self.seen.ticks_planned(list(self.ticks_begun))
                if name not in ended
            ]
            assert not open_, f"ticks begun and never ended: {open_}"
            world.drain()
            for _ in range(4):
                world.sweep(10)
                world.drain()
            bills_once_a_period_and_a_lineage(self.seen, settled=True)
            runs_kafka_took_are_settled(self.world, self.seen, self.settled_runs)

    # -- invariants -----------------------------------------------------------------

    @invariant()
    def bills_once_a_period_and_a_lineage(self) -> None:
        bills_once_a_period_and_a_lineage(self.seen, settled=False)

    @invariant()
    def ticks_bill_their_customers_once(self) -> None:
        ticks_bill_their_customers_once(self.seen, self.ticks_begun)

    @invariant()
    def imports_are_whole_and_once(self) -> None:
        self.crm.check_whole_and_once(self.seen)

    @invariant()
    def every_state_change_is_audited_once_naming_its_actor(self) -> None:
        self.actors.check_audit(self.seen.runs())


ON_S3 = os.environ.get("MODEL_ON_S3") == "1"  # every machine on moto, as before memory


@pytest.fixture
def moto_s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Client]:
    one_thread(monkeypatch)
    with mock_aws():
        yield boto3.client("s3", region_name="us-east-1")


@pytest.fixture
def model_s3(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> S3Client | None:
    """Where the machines keep their buckets: None, in memory; moto's if MODEL_ON_S3=1."""
    one_thread(monkeypatch)  # the customers' store writes its name keys in parallel
    return request.getfixturevalue("moto_s3") if ON_S3 else None


def run_model(
    s3: S3Client | None,
    focus: frozenset[str] = frozenset(),
    examples: int = 3,
    asked_by: str = "MODEL_EXAMPLES",
) -> None:
    """The model over ``examples`` random sequences of 25 steps, in memory (``s3`` None)
    or on moto: in memory a fraction of a second a sequence, on moto 0.7 to 3 s; the unit
    tier runs a few. The variable ``asked_by`` asks for more: `make model` runs 500, CI
    1,000 (.ci/run)."""
    OperatorModel.s3 = s3
    asked = _FOCUS[0]
    _FOCUS[0] = asked or focus
    OperatorModel.TestCase.settings = settings(
        max_examples=int(os.environ.get(asked_by, examples)),
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    try:
        OperatorModel.TestCase().runTest()
    finally:
        _FOCUS[0] = asked
        OperatorModel.s3 = None


def test_operator_actions_keep_the_promise(model_s3: S3Client | None) -> None:
    run_model(model_s3)


def test_runs_steered_at_random_bill_each_customer_once(model_s3: S3Client | None) -> None:
    run_model(model_s3, STEERING)


def test_customers_and_ticks_at_random_stay_whole_and_once(model_s3: S3Client | None) -> None:
    run_model(model_s3, CRM_AND_SCHEDULE, examples=2)  # a tick bills every customer


def test_periods_and_posts_sent_again_at_random_bill_once_a_period(
    model_s3: S3Client | None,
) -> None:
    run_model(model_s3, PERIODS_AND_REPOSTS)


def test_operator_actions_keep_the_promise_on_s3(moto_s3: S3Client) -> None:
    """The whole model on moto, S3's faults in boto3's requests: the S3 adapter's share."""
    run_model(moto_s3, asked_by="MODEL_S3_EXAMPLES")
