"""Faults the runtime must survive, each ending in an exact count of bills, failed jobs
and dead letters: unknown customers, a CRM that is late or never answers, both
processing guarantees, two copies of every function, a restarted broker, an S3 outage
and a broker lost from a three-node cluster."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from functions.storage.keys import bill_name
from functions.wire.identifiers import WorkflowId
from runtime.config import StackSettings
from runtime.services import Services
from tests.helpers.faults import Cluster, FlakyProxy
from tests.helpers.kafka import produce, topic_records, unprocessed
from tests.helpers.lab import workflow
from tests.helpers.processes import Processes
from tests.helpers.stores import (
    assert_billed_exactly_once,
    bill_names,
    closed,
    dead_letters,
    job_outcomes,
    seed_customers,
)
from tests.helpers.waiting import wait_for


def expected_bills(workflows: dict[str, str]) -> list[str]:
    return sorted(bill_name(customer, WorkflowId(wid)) for wid, customer in workflows.items())


def test_an_unknown_customer_fails_its_job_with_the_reason_and_gets_no_bill(
    settings: StackSettings, processes: Processes
) -> None:
    processes.runtime("all", settings)
    produce(settings, settings.workflow_topic, [workflow("known", "1"), workflow("unknown", "999")])
    outcomes = wait_for("both jobs closed", closed(settings, 2))
    assert outcomes == {
        "pending": [],
        "completed": ["known"],
        "failed": ["unknown"],
    }
    assert bill_names(settings) == [bill_name("1", WorkflowId("known"))]
    failure = Services(settings).context.failures.get(WorkflowId("unknown"))
    assert failure is not None
    assert failure.reason == "customer '999' is not known to the CRM"
    wait_for("every record of the functions' topics done", lambda: unprocessed(settings) == 0)
    assert dead_letters(settings) == 0


@pytest.mark.parametrize("guarantee", ["at-least-once", "exactly-once"])
def test_each_processing_guarantee_bills_every_customer_exactly_once(
    settings: StackSettings, processes: Processes, guarantee: str
) -> None:
    settings = replace(settings, processing_guarantee=guarantee)
    runtime = processes.runtime("all", settings)
    runs = {f"{guarantee}-{n}": str(1 + n % 8) for n in range(40)}
    records = [workflow(wid, customer) for wid, customer in runs.items()]
    produce(settings, settings.workflow_topic, records + records[:10])  # ten redelivered
    outcomes = wait_for("40 jobs closed", closed(settings, 40))
    assert_billed_exactly_once(settings, outcomes, expected_bills(runs), runs)
    assert f"in flight, {guarantee}" in runtime.output()


@pytest.mark.slow
def test_a_crm_that_starts_late_still_gets_every_job_billed(
    settings: StackSettings, processes: Processes
) -> None:
    patient = replace(
        settings, answer_timeout_s=2, answer_backoff=1.5, answer_attempts=10, retry_interval_s=0.5
    )
    for function in ("engine-start", "engine-complete", "retry-unanswered"):
        processes.runtime(function, patient)
    runs = {f"late-{n}": str(1 + n % 8) for n in range(20)}
    produce(settings, settings.workflow_topic, [workflow(w, c) for w, c in runs.items()])
    # The CRM stays away while every question times out twice and waits on the topic.
    wait_for("every question asked three times", lambda: _asked(settings, 20, 3), timeout_s=60)
    assert job_outcomes(settings)["completed"] == []

    processes.runtime("crm-answer", patient)
    outcomes = wait_for("20 jobs closed", closed(settings, 20), timeout_s=120)
    assert_billed_exactly_once(settings, outcomes, expected_bills(runs), runs)


def _asked(settings: StackSettings, jobs: int, times: int) -> bool:
    """Whether each of ``jobs`` waiting jobs has asked its question ``times`` times."""
    sweep = Services(settings).context.sweep
    in_an_hour = datetime.now(UTC) + timedelta(hours=1)
    attempts = [job.attempts for job in sweep.waiting(in_an_hour)]
    return len(attempts) == jobs and min(attempts) >= times


def test_a_crm_that_never_answers_leaves_every_job_failed_with_its_reason(
    settings: StackSettings, processes: Processes
) -> None:
    impatient = replace(
        settings, answer_timeout_s=1, answer_backoff=1, answer_attempts=3, retry_interval_s=0.3
    )
    for function in ("engine-start", "engine-complete", "retry-unanswered"):
        processes.runtime(function, impatient)
    runs = [f"never-{n}" for n in range(10)]
    produce(settings, settings.workflow_topic, [workflow(w) for w in runs])
    outcomes = wait_for("10 jobs failed", closed(settings, 10), timeout_s=60)
    assert sorted(outcomes["failed"]) == sorted(runs)
    assert outcomes["completed"] == []
    assert bill_names(settings) == []
    failure = Services(settings).context.failures.get(WorkflowId("never-0"))
    assert failure is not None
    assert failure.reason.startswith("no answer from the CRM to 3 question(s) about customer 1")
    processes.stop_all()  # the timer that asks again, stopped: no question can come after
    asked = topic_records(settings, settings.questions_topic)
    assert len(asked) == 30, "each job is asked three times"


@pytest.mark.slow
def test_two_copies_of_every_function_bill_every_customer_exactly_once(
    settings: StackSettings, processes: Processes
) -> None:
    customers = seed_customers(settings, 300)
    for copy in (1, 2):
        processes.runtime("all", settings, f"copy-{copy}")
    runs = {f"twice-{n}": customer for n, customer in enumerate(customers)}
    produce(settings, settings.workflow_topic, [workflow(w, c) for w, c in runs.items()])
    outcomes = wait_for("300 jobs closed", closed(settings, 300), timeout_s=240)
    assert_billed_exactly_once(settings, outcomes, expected_bills(runs), runs)


def bill_300_through(
    settings: StackSettings,
    processes: Processes,
    fault: Callable[[], None],
    functions_settings: StackSettings | None = None,
) -> None:
    """A run of 300 customers with ``fault`` once a fifth of the bills exist; then every
    job must be billed exactly once, none failed, nothing left waiting or dead-lettered."""
    customers = seed_customers(settings, 300)
    processes.runtime("all", functions_settings or settings)
    runs = {f"wf-{n}": customer for n, customer in enumerate(customers)}
    produce(settings, settings.workflow_topic, [workflow(w, c) for w, c in runs.items()])
    wait_for("a fifth of the bills", lambda: len(bill_names(settings)) >= 60, timeout_s=240)
    fault()
    outcomes = wait_for("300 jobs closed", closed(settings, 300), timeout_s=300)
    assert_billed_exactly_once(settings, outcomes, expected_bills(runs), runs)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("brokers", "fault"),
    [(1, lambda cluster: cluster.restart(1)), (3, lambda cluster: cluster.kill(2))],
    ids=["one-broker-restarted", "one-of-three-brokers-killed"],
)
def test_a_broker_lost_mid_run_loses_and_doubles_nothing(
    own_cluster: Callable[[int], tuple[Cluster, StackSettings]],
    processes: Processes,
    brokers: int,
    fault: Callable[[Cluster], None],
) -> None:
    cluster, settings = own_cluster(brokers)
    bill_300_through(settings, processes, lambda: fault(cluster))


@pytest.mark.slow
def test_s3_unreachable_for_ten_seconds_mid_run_loses_and_doubles_nothing(
    settings: StackSettings, processes: Processes
) -> None:
    proxy = FlakyProxy(settings.s3_endpoint_url or "")
    through_proxy = replace(settings, s3_endpoint_url=proxy.url, storage_retry_s=60)

    def outage() -> None:
        proxy.cut()
        time.sleep(10)
        proxy.restore()

    try:
        bill_300_through(settings, processes, outage, functions_settings=through_proxy)
    finally:
        proxy.close()
