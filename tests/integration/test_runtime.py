"""The quix-streams runtime against the real Kafka broker and the S3 server."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from functions.bills import bill_name
from functions.messages import WorkflowId
from functions.storage import JobStatus
from runtime.config import Settings
from runtime.services import Services
from tests.support import Process, TopicReader, group_members, produce, wait_for

LAB_WORKFLOW = {
    "workflow-type": "bill-generation",
    "workflow-id": 1616523703935.42,
    "create-time": "2021-03-23T18:21:43.935Z",
    "payload": {"customerIdentifier": "1"},
}


def workflow(workflow_id: str | float, customer: str = "1") -> dict[str, object]:
    return {**LAB_WORKFLOW, "workflow-id": workflow_id, "payload": {"customerIdentifier": customer}}


def test_engine_start_asks_the_lab_question_and_keeps_the_job_in_s3(
    settings: Settings, tmp_path: Path
) -> None:
    questions = TopicReader(settings, settings.questions_topic)
    worker = Process.runtime("engine-start", settings, tmp_path / "engine-start.log")
    try:
        produce(settings, settings.workflow_topic, [LAB_WORKFLOW])
        [record] = questions.read(1)
        assert record.value() == (
            b'{"questionCategory":"customer","qaIdentifier":1616523703935.42,'
            b'"payload":{"customerIdentifier":"1"}}'
        )
        assert record.key() is None
        job = Services(settings).context.jobs.get(WorkflowId(1616523703935.42))
        assert job is not None
        assert job.status is JobStatus.PENDING
    finally:
        assert worker.terminate() == 0, worker.output()
        questions.close()


def test_malformed_records_go_to_the_dead_letter_topic_and_the_stream_goes_on(
    settings: Settings, tmp_path: Path
) -> None:
    questions = TopicReader(settings, settings.questions_topic)
    dead_letters = TopicReader(settings, settings.dead_letter_topic)
    worker = Process.runtime("engine-start", settings, tmp_path / "engine-start.log")
    try:
        produce(
            settings,
            settings.workflow_topic,
            [
                b"{this is not json",
                {"workflow-type": "bill-generation"},
                workflow("after-the-bad-ones"),
            ],
        )
        assert [q["qaIdentifier"] for q in questions.values(1)] == ["after-the-bad-ones"]
        dead = dead_letters.read(2)
        assert sorted(d.value() for d in dead) == sorted(
            [b"{this is not json", b'{"workflow-type": "bill-generation"}']
        )
        for record in dead:
            headers = dict(record.headers())
            assert headers["dead-letter-function"] == b"engine-start"
            assert headers["dead-letter-origin"].startswith(settings.workflow_topic.encode())
            assert headers["dead-letter-reason"].startswith(b"MalformedMessage")
        assert worker.popen.poll() is None, "the worker must keep running"
    finally:
        assert worker.terminate() == 0, worker.output()
        questions.close()
        dead_letters.close()


def test_all_functions_bill_every_customer_once_despite_duplicate_answers(
    settings: Settings, tmp_path: Path
) -> None:
    runtime = Process.runtime("all", settings, tmp_path / "runtime.log")
    services = Services(settings)
    bills = services.context.bills.bucket  # type: ignore[attr-defined]
    try:
        ids: list[str | float] = [f"wf-{n}" for n in range(1, 5)] + [
            1000.5 + n for n in range(5, 9)
        ]
        produce(
            settings,
            settings.workflow_topic,
            [workflow(wid, str(n)) for n, wid in enumerate(ids, start=1)],
        )
        names = [bill_name(str(n), WorkflowId(wid)) for n, wid in enumerate(ids, start=1)]
        wait_for("8 bills", lambda: all(bills.get_bytes(name) for name in names))
        first = bills.get_bytes(names[0])

        answer = {
            "qaIdentifier": "wf-1",
            "answer": {
                "customerId": "1",
                "firstName": "Someone",
                "lastName": "Else",
                "city": "X",
                "connectionId": "1",
                "connectionMandate": "0",
            },
        }
        produce(settings, settings.answers_topic, [answer, answer])
        runtime.wait_for_output("answer wf-1: job already completed; duplicate answer skipped")
        assert bills.get_bytes(names[0]) == first
        assert b"Bill for John Doe" in first
    finally:
        assert runtime.terminate() == 0, runtime.output()
    assert "all functions stopped" in runtime.output()


def test_two_copies_of_a_function_share_its_partitions(settings: Settings, tmp_path: Path) -> None:
    group = settings.consumer_group_prefix + "billing-engine-start"
    questions = TopicReader(settings, settings.questions_topic)
    copies = [Process.runtime("engine-start", settings, tmp_path / f"copy-{n}.log") for n in (1, 2)]
    try:

        def both_assigned() -> list[Any] | None:
            members = group_members(settings, group)
            busy = [m for m in members if m.assignment.topic_partitions]
            return busy if len(members) == len(busy) == 2 else None

        members = wait_for("two members with partitions", both_assigned)
        assigned = [{tp.partition for tp in m.assignment.topic_partitions} for m in members]
        assert len(assigned) == 2
        assert assigned[0].isdisjoint(assigned[1])
        assert assigned[0] | assigned[1] == set(range(settings.topic_partitions))

        produce(settings, settings.workflow_topic, [workflow(f"shared-{n}") for n in range(40)])
        answered = {q["qaIdentifier"] for q in questions.values(40)}
        assert answered == {f"shared-{n}" for n in range(40)}
    finally:
        for copy in copies:
            assert copy.terminate() == 0, copy.output()
        questions.close()


def test_offsets_are_committed_on_sigterm_so_a_restart_does_not_redo_work(
    settings: Settings, tmp_path: Path
) -> None:
    questions = TopicReader(settings, settings.questions_topic)
    first = Process.runtime("engine-start", settings, tmp_path / "first.log")
    produce(settings, settings.workflow_topic, [workflow(f"before-{n}") for n in range(3)])
    questions.values(3)
    assert first.terminate() == 0, first.output()

    produce(settings, settings.workflow_topic, [workflow("while-stopped")])
    second = Process.runtime("engine-start", settings, tmp_path / "second.log")
    try:
        values = [json.loads(r.value()) for r in questions.read(4)]
        assert values[3]["qaIdentifier"] == "while-stopped"
        assert questions.quiet_for(3) == 0, "records of the first run were processed again"
    finally:
        assert second.terminate() == 0, second.output()
        questions.close()


def test_a_crash_before_the_commit_redelivers_without_a_second_bill(
    settings: Settings, tmp_path: Path
) -> None:
    slow_commits = replace(settings, commit_interval_s=3600.0)
    services = Services(settings)
    bills = services.context.bills.bucket  # type: ignore[attr-defined]
    producer_side = Process.runtime("engine-start", settings, tmp_path / "engine-start.log")
    crm = Process.runtime("crm-answer", settings, tmp_path / "crm-answer.log")
    try:
        produce(settings, settings.workflow_topic, [workflow(f"crash-{n}", "2") for n in range(3)])
        names = [bill_name("2", WorkflowId(f"crash-{n}")) for n in range(3)]

        first = Process.runtime("engine-complete", slow_commits, tmp_path / "first.log")
        wait_for("3 bills", lambda: all(bills.get_bytes(name) for name in names))
        written = [bills.get_bytes(name) for name in names]
        first.popen.kill()  # no SIGTERM: nothing gets committed
        first.popen.wait()

        second = Process.runtime("engine-complete", settings, tmp_path / "second.log")
        for n in range(3):
            second.wait_for_output(f"answer crash-{n}: job already completed")
        assert [bills.get_bytes(name) for name in names] == written
        assert second.terminate() == 0, second.output()
    finally:
        for process in (producer_side, crm):
            assert process.terminate() == 0, process.output()
