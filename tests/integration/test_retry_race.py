"""Retries of one run asked at once, on the real S3 server (whose conditional creates are
atomic, as moto's are not across threads), even while the run's failures are still being
written: no customer is held by two of them."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from functions.http.web import HttpRequest, HttpResponse
from functions.storage import Job
from functions.wire.identifiers import WorkflowId
from functions.wire.messages import WorkflowMessage
from runtime.config import FunctionSettings, StackSettings
from runtime.http_function import HttpFunction
from runtime.services import Services
from tests.helpers.in_process import RecordingPublisher, function_settings, post, serving


def coordinator(settings: FunctionSettings) -> HttpFunction:
    services = Services(settings, publisher=RecordingPublisher())
    return HttpFunction("coordinator", lambda: services)


def test_retries_asked_at_once_share_no_customer(settings: StackSettings) -> None:
    # Four coordinators, each a process of its own with clients of its own.
    coordinators = [coordinator(function_settings(settings)) for _ in range(4)]
    started = coordinators[0](
        HttpRequest("POST", "/", headers={"content-type": "application/json"}),
        lambda: b'{"customerIdentifiers": ["1", "2", "3", "4", "5", "6", "7", "8"]}',
    )
    assert started.status == 202, started.body
    failures = Services(function_settings(settings)).context.failures
    for workflow in started.body["workflows"]:
        job = Job(WorkflowId(workflow["workflowId"]), workflow["customerIdentifier"], "t", "t")
        failures.record(job, "unknown", "t")

    asked = HttpRequest("POST", f"/runs/{started.body['runId']}/retry")
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda n: coordinators[n % 4](asked, lambda: b""), range(32)))
    assert {answer.status for answer in answers} == {202}, [a.body for a in answers]
    retries = {
        answer.body["runId"]: [w["customerIdentifier"] for w in answer.body["workflows"]]
        for answer in answers
    }
    held = sorted(customer for customers in retries.values() for customer in customers)
    assert held == [str(n) for n in range(1, 9)], f"a customer in two retries: {retries}"


def test_retries_raced_while_the_run_keeps_failing_share_no_customer(
    settings: StackSettings,
) -> None:
    """HELD: 24 retries on four coordinators while the run's failures are written one by
    one; every failure ends in exactly one retry (the slots)."""
    recorder = RecordingPublisher()
    coordinators = [
        serving("coordinator", Services(function_settings(settings), publisher=recorder))
        for _ in range(4)
    ]
    customers = [str(n) for n in range(1, 25)]
    started = post(coordinators[0], "/", {"customerIdentifiers": customers})
    assert started.status == 202
    failures = Services(function_settings(settings)).context.failures
    workflows = started.body["workflows"]

    def fail_and_retry(n: int) -> HttpResponse[Any]:
        workflow = workflows[n]
        job = Job(WorkflowId(workflow["workflowId"]), workflow["customerIdentifier"], "t", "t")
        failures.record(job, "unknown", "t")
        return coordinators[n % 4](
            HttpRequest("POST", f"/runs/{started.body['runId']}/retry"), lambda: b""
        )

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(fail_and_retry, range(24)))
    assert {a.status for a in answers} <= {202, 503}, [a.body for a in answers]
    last = post(coordinators[0], f"/runs/{started.body['runId']}/retry", {})
    assert last.status == 202
    by_workflow = {
        o.message.workflow_id.key: o.message.customer_identifier
        for o in recorder.published
        if isinstance(o.message, WorkflowMessage)
        and o.message.workflow_id.run_id != started.body["runId"]
    }
    assert sorted(by_workflow.values(), key=int) == customers, "each failure in one retry"
