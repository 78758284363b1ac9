"""Billing on a schedule: one run a tick, whatever the clocks, restarts, schedulers, Kafka
and the previous version do."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from functions.errors import ConfigurationError, PublishFailed, StorageUnavailable
from functions.runs.schedule import BillingSchedule
from functions.runs.scheduled_billing import bill_on_schedule
from functions.storage import IdempotencyRecord, Run
from functions.wire.messages import WorkflowMessage
from runtime.config import FunctionSettings
from runtime.services import Services
from runtime.triggers import TIMER_BY_FUNCTION, enabled_functions
from tests.helpers.lab import ADA
from tests.unit.harness import Harness, client
from tests.unit.runs_by_hand import DAY, published_workflows, scheduler


def runs() -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = client("coordinator").get("/runs?limit=100").get_json()["runs"]
    return listed


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_a_tick_starts_one_run_of_every_customer(harness: Harness) -> None:
    billing = scheduler(harness, "0 6 1 * *")
    assert bill_on_schedule(at("2026-12-01T05:59:59Z"), billing) is None, "1 November is long past"
    handled = bill_on_schedule(at("2026-12-01T06:00:02Z"), billing)
    assert handled == at("2026-12-01T06:00:00Z")
    (run,) = [r for r in runs() if r["scheduledFor"] == "2026-12-01T06:00 UTC"]
    assert run["total"] == 8, "every customer of the CRM"
    # Checked again and again within the tick: nothing more.
    assert bill_on_schedule(at("2026-12-01T06:00:07Z"), billing, handled) == handled
    assert len(runs()) == 1


def test_two_schedulers_and_a_tick_delivered_twice_start_one_run(harness: Harness) -> None:
    first, second = scheduler(harness, "*/5 * * * *"), scheduler(harness, "*/5 * * * *")
    now = at("2026-12-01T08:05:01Z")
    bill_on_schedule(now, first)
    bill_on_schedule(now, second)
    bill_on_schedule(now, second)  # EventBridge delivers at least once
    assert len(runs()) == 1
    published = [o.message.workflow_id.text for o in harness.publisher.published]
    assert len(published) == 8, "the replays published nothing"


def test_a_scheduler_back_after_missed_ticks_catches_up_the_latest_once(
    harness: Harness,
) -> None:
    hourly = scheduler(harness, "0 * * * *", catch_up_s=3600)
    # Down from before 06:00 until 09:20: 06:00, 07:00, 08:00 and 09:00 were missed.
    assert bill_on_schedule(at("2026-12-01T09:20:00Z"), hourly) == at("2026-12-01T09:00:00Z")
    assert [r["scheduledFor"] for r in runs()] == ["2026-12-01T09:00 UTC"]
    # Back more than the window after the latest tick: nothing is caught up.
    later = scheduler(harness, "0 */4 * * *", catch_up_s=3600)
    assert bill_on_schedule(at("2026-12-01T13:30:00Z"), later) is None, "12:00 is past the window"
    assert len(runs()) == 1


def test_the_hour_a_clock_turns_back_bills_once_and_the_hour_it_skips_bills_after_it(
    harness: Harness,
) -> None:
    nightly = scheduler(harness, "30 2 * * *", "Europe/Amsterdam")
    # 25 October 2026: 03:00 CEST becomes 02:00 CET, so 02:30 comes twice.
    first = bill_on_schedule(at("2026-10-25T00:30:05Z"), nightly)  # 02:30 CEST
    assert first == at("2026-10-25T00:30:00Z")
    second_pass = at("2026-10-25T01:30:05Z")  # 02:30 CET
    assert bill_on_schedule(second_pass, nightly, first) == first
    restarted = scheduler(harness, "30 2 * * *", "Europe/Amsterdam")
    bill_on_schedule(second_pass, restarted)  # a scheduler that knows nothing of the first
    assert [r["scheduledFor"] for r in runs()] == ["2026-10-25T02:30 Europe/Amsterdam"]
    # 29 March 2026: 02:00 CET becomes 03:00 CEST; there is no 02:30, the tick comes at 03:00.
    spring = nightly.schedule.upcoming(at("2026-03-28T12:00:00Z"), 2)
    assert [tick.isoformat() for tick in spring] == [
        "2026-03-29T03:00:00+02:00",
        "2026-03-30T02:30:00+02:00",
    ]


@pytest.mark.parametrize(
    ("env", "complaint"),
    [
        ({"BILLING_SCHEDULE": "every day"}, "BILLING_SCHEDULE='every day' is not a cron"),
        ({"BILLING_SCHEDULE": "61 * * * *"}, "is not a cron expression"),
        (
            {"BILLING_SCHEDULE": "0 6 * * *", "BILLING_SCHEDULE_TZ": "Mars/Olympus"},
            "BILLING_SCHEDULE_TZ='Mars/Olympus' is not a time zone",
        ),
    ],
)
def test_a_schedule_that_cannot_be_read_stops_the_process_at_start(
    env: dict[str, str], complaint: str
) -> None:
    with pytest.raises(ConfigurationError, match=complaint):
        FunctionSettings.from_env(env)


def test_the_schedule_is_a_timer_its_setting_turns_on(harness: Harness) -> None:
    timer = TIMER_BY_FUNCTION["bill-on-schedule"]
    unset = harness.services.settings
    assert "bill-on-schedule" not in enabled_functions(unset)
    with pytest.raises(ConfigurationError, match="needs BILLING_SCHEDULE"):
        timer.start(harness.services)

    settings = replace(unset, billing_schedule="0 6 1 * *", schedule_check_s=2)
    assert enabled_functions(settings)[-1] == "bill-on-schedule"
    assert timer.every(settings) == 2
    services = Services(
        settings,
        role="bill-on-schedule",
        buckets=harness.bucket,
        publisher=harness.publisher,
        clock=lambda: at("2026-12-01T06:00:02Z"),
    )
    tick = timer.start(services)
    assert tick() == {"tick": "2026-12-01T06:00 UTC"}
    assert tick() == {"tick": "2026-12-01T06:00 UTC"}, "the same tick, handled once"
    assert [r["scheduledFor"] for r in runs()] == ["2026-12-01T06:00 UTC"]
    assert {o.message.workflow_id.run_id for o in harness.publisher.published} == {
        runs()[0]["runId"]
    }


def test_a_tick_that_failed_midway_bills_the_customers_it_planned_once(
    harness: Harness,
) -> None:
    """Pages of 3: the tick's second page fails to publish; a customer whose id sorts
    first is added; the tick is tried again. Nobody is billed twice nor skipped."""
    fail_second_page = FailNth(harness, 2)
    billing = replace(scheduler(harness, "0 6 1 * *"), page_size=3)
    now = at("2026-12-01T06:00:02Z")
    with pytest.raises(PublishFailed):
        bill_on_schedule(now, billing)
    fail_second_page.undo()
    ids = client("crm").post("/customers", json=[{**ADA, "customerId": "0"}])
    assert ids.status_code == 201
    assert bill_on_schedule(now, billing) == at("2026-12-01T06:00:00Z")
    ticked = [r for r in runs() if r["scheduledFor"] == "2026-12-01T06:00 UTC"]
    workflows = [o.message for o in harness.publisher.published]
    billed = [
        w.customer_identifier
        for w in workflows
        if isinstance(w, WorkflowMessage) and w.workflow_id.run_id in {r["runId"] for r in ticked}
    ]
    assert sorted(billed, key=int) == [str(n) for n in range(1, 9)], "each once, none skipped"


def test_a_clients_idempotency_key_cannot_take_a_ticks_run(harness: Harness) -> None:
    taken = client("coordinator").post(
        "/",
        json={"customerIdentifiers": ["1"]},
        headers={"Idempotency-Key": "schedule:2026-12-01T06:00 UTC:0"},
    )
    assert taken.status_code == 202
    billing = scheduler(harness, "0 6 1 * *")
    bill_on_schedule(at("2026-12-01T06:00:02Z"), billing)
    (ticked,) = [r for r in runs() if r.get("scheduledFor") == "2026-12-01T06:00 UTC"]
    assert ticked["total"] == 8, "the tick billed every customer"


class FailNth:
    """The coordinator's n-th publish from now is refused, as Kafka would."""

    def __init__(self, harness: Harness, nth: int) -> None:
        self.publisher = harness.publisher
        self.original = self.publisher.publish
        self.count = 0

        def publish(messages: Any, before_commit: Any = lambda: None) -> None:
            self.count += 1
            if self.count == nth:
                before_commit()
                raise PublishFailed("Kafka did not acknowledge (a test's fault)")
            self.original(messages, before_commit)

        self.publisher.publish = publish  # type: ignore[method-assign]

    def undo(self) -> None:
        self.publisher.publish = self.original  # type: ignore[method-assign]


def test_a_tick_an_earlier_version_started_is_left_to_its_runs(harness: Harness) -> None:
    """Before the plans, a tick's first run was claimed by ``schedule:<tick>:0``."""
    legacy = client("coordinator").post(
        "/",
        json={"customerIdentifiers": ["1"]},
        headers={"Idempotency-Key": "schedule:2026-12-01T06:00 UTC:0"},
    )
    run_id = legacy.get_json()["runId"]
    runs_store = harness.services.runs
    stored = runs_store.get(run_id)
    assert stored is not None
    runs_store.save(replace(stored, scheduled_for="2026-12-01T06:00 UTC"))
    billing = scheduler(harness, "0 6 1 * *")
    assert bill_on_schedule(at("2026-12-01T06:00:02Z"), billing) == at("2026-12-01T06:00:00Z")
    assert [r["runId"] for r in runs()] == [run_id], "no second run of the tick"


def test_a_tick_an_earlier_version_stopped_after_its_first_page_bills_the_rest(
    harness: Harness,
) -> None:
    """Pages of 3: an earlier version claimed page 0 (customers 1 to 3) and stopped; the
    tick goes on after customer 3, and every customer is billed by one run of it."""
    tick = "2026-12-01T06:00 UTC"
    first = client("coordinator").post(
        "/",
        json={"customerIdentifiers": ["1", "2", "3"]},
        headers={"Idempotency-Key": f"schedule:{tick}:0"},
    )
    runs_store = harness.services.runs
    stored = runs_store.get(first.get_json()["runId"])
    assert stored is not None
    runs_store.save(replace(stored, scheduled_for=tick))
    billing = replace(scheduler(harness, "0 6 1 * *"), page_size=3)
    assert bill_on_schedule(at("2026-12-01T06:00:02Z"), billing) == at("2026-12-01T06:00:00Z")
    ticked = {r["runId"] for r in runs() if r.get("scheduledFor") == tick}
    billed = [
        o.message.customer_identifier
        for o in harness.publisher.published
        if isinstance(o.message, WorkflowMessage) and o.message.workflow_id.run_id in ticked
    ]
    assert sorted(billed, key=int) == [str(n) for n in range(1, 9)], "each once, none skipped"
    assert len(ticked) == 3


@pytest.mark.parametrize(
    ("expression", "now", "due"),
    [
        ("* * * * *", "2026-12-01T07:39:59.692Z", "2026-12-01T07:39:00Z"),
        ("* * * * *", "2026-12-01T07:40:00Z", "2026-12-01T07:40:00Z"),
        ("0 0 1 * *", "2026-11-30T23:59:59.999Z", "2026-11-01T00:00:00Z"),
        ("0 0 1 * *", "2026-12-01T00:00:00.000001Z", "2026-12-01T00:00:00Z"),
    ],
)
def test_a_tick_is_never_due_before_its_time(expression: str, now: str, due: str) -> None:
    schedule = BillingSchedule.parse(expression, "UTC", 40 * DAY)
    assert schedule.due(at(now)) == at(due)


def test_a_tick_bills_the_period_it_falls_in_on_its_zones_clock(harness: Harness) -> None:
    """00:30 on 1 December in Amsterdam is 23:30 on 30 November in UTC: December's."""
    billing = scheduler(harness, "30 0 1 * *", zone="Europe/Amsterdam")
    bill_on_schedule(at("2026-11-30T23:30:01Z"), billing)
    (run,) = runs()
    assert (run["billingPeriod"], run["total"]) == ("2026-12", 8)
    daily = replace(scheduler(harness, "30 0 * * *", zone="Europe/Amsterdam"), period_length="day")
    bill_on_schedule(at("2026-12-01T23:30:01Z"), daily)
    (run,) = [r for r in runs() if r["scheduledFor"] == "2026-12-02T00:30 Europe/Amsterdam"]
    assert run["billingPeriod"] == "2026-12-02"


def test_a_second_tick_of_a_period_bills_nobody_billed_in_it(harness: Harness) -> None:
    every_minute = scheduler(harness, "* * * * *")
    bill_on_schedule(at("2026-12-01T06:00:01Z"), every_minute)
    context = harness.services.context
    for outgoing in list(harness.publisher.published):
        message = outgoing.message
        assert isinstance(message, WorkflowMessage)
        wid = message.workflow_id
        name = f"2026-12/customer-bill-{message.customer_identifier}.txt"
        assert context.bills.create(name, "a bill", wid, "t")
    harness.publisher.published.clear()
    bill_on_schedule(at("2026-12-01T06:01:01Z"), every_minute)
    (second,) = [r for r in runs() if r["scheduledFor"] == "2026-12-01T06:01 UTC"]
    assert (second["billedBefore"], second["counts"]["billed"], second["state"]) == (8, 8, "done")
    assert harness.publisher.published == [], "no workflow"


def test_a_tick_an_earlier_version_began_is_planned_on_page_by_page_through_a_crash(
    harness: Harness,
) -> None:
    """An earlier version published pages 0 and 1 (pages of 3) and stopped; S3 fails as
    this one reads page 1's claim, after it kept page 0. The next check goes on from page
    1, as that version claimed it: each customer is in one run of the tick."""
    tick = "2026-12-01T06:00 UTC"
    runs_store = harness.services.runs
    earlier = []
    for number, customers in enumerate((["1", "2", "3"], ["4", "5", "6"])):
        response = client("coordinator").post(
            "/",
            json={"customerIdentifiers": customers},
            headers={"Idempotency-Key": f"schedule:{tick}:{number}"},
        )
        stored = runs_store.get(response.get_json()["runId"])
        assert stored is not None
        runs_store.save(replace(stored, scheduled_for=tick))
        earlier.append(stored.run_id)
    billing = replace(scheduler(harness, "0 6 1 * *"), page_size=3)
    plans_reader = billing.coordination.records.runs
    claimed, failures = plans_reader.claimed, [True]

    def s3_away_once_at_page_1(key: str) -> IdempotencyRecord | None:
        if key == f"schedule:{tick}:1" and failures:
            failures.pop()
            raise StorageUnavailable("S3 away for a moment")
        return claimed(key)

    plans_reader.claimed = s3_away_once_at_page_1  # type: ignore[method-assign,assignment]
    with pytest.raises(StorageUnavailable):  # the scheduler stops; its next check goes on
        bill_on_schedule(at("2026-12-01T06:00:02Z"), billing)
    bill_on_schedule(at("2026-12-01T06:00:07Z"), billing)
    ticked = set(earlier) | {r["runId"] for r in runs() if r.get("scheduledFor") == tick}
    billed = [
        o.message.customer_identifier
        for o in harness.publisher.published
        if isinstance(o.message, WorkflowMessage) and o.message.workflow_id.run_id in ticked
    ]
    assert sorted(billed, key=int) == [str(n) for n in range(1, 9)], "each once, none skipped"


def test_a_tick_the_previous_version_claimed_but_never_published_is_published(
    harness: Harness,
) -> None:
    """Once: scheduled_billing.bill_on_schedule / S3TickPlans
    .started_by_earlier_version: a tick whose ``schedule:<tick>:0`` claim and run the
    previous version wrote, but whose publish failed (Kafka down), is "left to it"; after
    the upgrade nothing runs that version, and the run is never published (nor are the
    tick's later pages planned). docs/guarantees.md: "a tick counts as handled only when
    every page is"."""
    tick = "2026-12-01T06:00 UTC"
    runs = harness.services.runs
    legacy_id = "run-20261201T060001-0badc0de"
    customers = ("1", "2", "3", "4", "5", "6", "7", "8")
    digest = hashlib.sha256(json.dumps(list(customers)).encode()).hexdigest()
    runs.claim(f"schedule:{tick}:0", IdempotencyRecord(legacy_id, digest))
    runs.save(Run(legacy_id, "2026-12-01T06:00:01.000Z", customers, scheduled_for=tick))
    billing = scheduler(harness, "0 6 1 * *")
    now = datetime(2026, 12, 1, 6, 0, 2, tzinfo=UTC)
    bill_on_schedule(now, billing)
    billed = {w.customer_identifier for w in published_workflows(harness)}
    assert billed == set(customers), f"the tick's customers published: {sorted(billed)}"


def test_a_tick_that_failed_is_finished_when_the_next_tick_is_due(
    harness: Harness,
) -> None:
    """Once: scheduled_billing.bill_on_schedule starts only the latest due
    tick: the 06:00 tick planned its page and Kafka refused the publish; at 07:00 the
    scheduler starts 07:00 and never publishes 06:00's planned run, which stays listed as
    a running run that will never run. docs/guarantees.md: "every page is published from
    its plan ... a tick counts as handled only when every page is". (The model test hides
    this: its ``settle`` calls bill_on_schedule at the missed tick's own time, which the
    runtime never does once a later tick is due.)"""
    billing = scheduler(harness, "0 * * * *")
    harness.publisher.fail = True
    with pytest.raises(PublishFailed):
        bill_on_schedule(datetime(2026, 12, 1, 6, 0, 2, tzinfo=UTC), billing)
    harness.publisher.fail = False
    for minute in range(1, 60, 10):  # the scheduler checks on, Kafka back
        bill_on_schedule(datetime(2026, 12, 1, 7, minute, 0, tzinfo=UTC), billing)
    ticks = {
        run["scheduledFor"]: run["published"]
        for run in (
            client("coordinator").get(f"/runs/{r['runId']}").get_json()
            for r in client("coordinator").get("/runs?limit=100").get_json()["runs"]
        )
    }
    assert ticks == {"2026-12-01T06:00 UTC": True, "2026-12-01T07:00 UTC": True}, ticks
