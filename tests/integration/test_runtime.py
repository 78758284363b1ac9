"""The quix-streams runtime against the real Kafka broker and the S3 server."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from functions.storage.keys import bill_name
from functions.wire.identifiers import WorkflowId
from runtime.config import StackSettings
from runtime.services import Services
from tests.helpers.kafka import TopicReader, group_members, produce
from tests.helpers.lab import LAB_WORKFLOW, workflow
from tests.helpers.processes import Processes
from tests.helpers.stores import bill
from tests.helpers.waiting import wait_for

Reader = Callable[[StackSettings, str], TopicReader]


def test_engine_start_asks_the_lab_question_and_keeps_the_job_in_s3(
    settings: StackSettings, processes: Processes, reader: Reader
) -> None:
    questions = reader(settings, settings.questions_topic)
    processes.runtime("engine-start", settings)
    produce(settings, settings.workflow_topic, [LAB_WORKFLOW])
    [record] = questions.read(1)
    assert record.value() == (
        b'{"questionCategory":"customer","qaIdentifier":1616523703935.42,'
        b'"payload":{"customerIdentifier":"1"}}'
    )
    assert record.key() == b"1616523703935.42"
    job = Services(settings).context.answer_jobs.find(WorkflowId(1616523703935.42))
    assert job is not None, "the job waits for its answer in S3"
    assert (job.customer_id, job.attempts) == ("1", 1)


def test_good_and_bad_records_interleaved_each_go_their_way(
    settings: StackSettings, processes: Processes, reader: Reader
) -> None:
    questions = reader(settings, settings.questions_topic)
    dead_letters = reader(settings, settings.dead_letter_topic(settings.workflow_topic))
    worker = processes.runtime("engine-start", settings)
    bad: list[bytes] = [
        b"{this is not json",
        b'{"workflow-type": "bill-generation"}',
        b'{"workflow-type": "bill-generation", "workflow-id": "x", "payload": {}}',
        json.dumps(workflow("escape", "../etc")).encode(),
        b"[1, 2]",
    ]
    records: list[bytes | dict[str, object]] = []
    for n in range(30):
        records.append(workflow(f"good-{n}"))
        if n % 6 == 0:
            records.append(bad[n // 6])
    produce(settings, settings.workflow_topic, records)

    asked = {q["qaIdentifier"] for q in questions.values(30)}
    assert asked == {f"good-{n}" for n in range(30)}
    dead = dead_letters.read(5)
    assert sorted(d.value() for d in dead) == sorted(bad)
    for record in dead:
        headers = dict(record.headers())
        assert headers["dlq-function"] == b"engine-start"
        assert headers["dlq-source-topic"] == settings.workflow_topic.encode()
        assert int(headers["dlq-source-partition"]) in range(settings.topic_partitions)
        assert int(headers["dlq-source-offset"]) >= 0
        assert headers["dlq-error"].startswith(b"MalformedMessage")
    assert questions.quiet_for(2) == 0
    assert dead_letters.quiet_for(0) == 0
    assert worker.popen.poll() is None, "the worker must keep running"


def test_all_functions_bill_every_customer_once_despite_duplicate_answers(
    settings: StackSettings, processes: Processes
) -> None:
    runtime = processes.runtime("all", settings)
    ids: list[str | float] = [f"wf-{n}" for n in range(1, 5)] + [1000.5 + n for n in range(5, 9)]
    produce(
        settings,
        settings.workflow_topic,
        [workflow(wid, str(n)) for n, wid in enumerate(ids, start=1)],
    )
    names = [bill_name(str(n), WorkflowId(wid)) for n, wid in enumerate(ids, start=1)]
    wait_for("8 bills", lambda: all(bill(settings, name) for name in names))
    first = bill(settings, names[0])

    someone_else = {
        "customerId": "1",
        "firstName": "Someone",
        "lastName": "Else",
        "city": "X",
        "connectionId": "1",
        "connectionMandate": "0",
    }
    answer = {"qaIdentifier": "wf-1", "answer": someone_else}
    produce(settings, settings.answers_topic, [answer, answer])
    runtime.wait_for_output(
        "answer wf-1: no job waits for it (billed, failed or not ours); skipped"
    )
    assert bill(settings, names[0]) == first
    assert first is not None
    assert b"Bill for John Doe" in first

    assert runtime.terminate() == 0, runtime.output()
    assert "all functions stopped" in runtime.output()


def test_two_copies_of_a_function_share_its_partitions(
    settings: StackSettings, processes: Processes, reader: Reader
) -> None:
    group = settings.consumer_group_prefix + "billing-engine-start"
    questions = reader(settings, settings.questions_topic)
    for n in (1, 2):
        processes.runtime("engine-start", settings, f"copy-{n}")

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


def test_offsets_are_committed_on_sigterm_so_a_restart_does_not_redo_work(
    settings: StackSettings, processes: Processes, reader: Reader
) -> None:
    questions = reader(settings, settings.questions_topic)
    first = processes.runtime("engine-start", settings, "first")
    produce(settings, settings.workflow_topic, [workflow(f"before-{n}") for n in range(3)])
    questions.values(3)
    assert first.terminate() == 0, first.output()

    produce(settings, settings.workflow_topic, [workflow("while-stopped")])
    processes.runtime("engine-start", settings, "second")
    values = [json.loads(r.value()) for r in questions.read(4)]
    assert values[3]["qaIdentifier"] == "while-stopped"
    assert questions.quiet_for(3) == 0, "records of the first run were processed again"


def test_a_crash_before_the_commit_redelivers_without_a_second_bill(
    settings: StackSettings, processes: Processes
) -> None:
    slow_commits = replace(settings, commit_interval_s=3600.0)
    processes.runtime("engine-start", settings)
    processes.runtime("crm-answer", settings)
    produce(settings, settings.workflow_topic, [workflow(f"crash-{n}", "2") for n in range(3)])
    names = [bill_name("2", WorkflowId(f"crash-{n}")) for n in range(3)]

    first = processes.runtime("engine-complete", slow_commits, "first")
    wait_for("3 bills", lambda: all(bill(settings, name) for name in names))
    written = [bill(settings, name) for name in names]
    first.kill()  # no SIGTERM: nothing gets committed

    second = processes.runtime("engine-complete", settings, "second")
    for n in range(3):
        second.wait_for_output(f"answer crash-{n}: ")  # redelivered, and processed again
    assert [bill(settings, name) for name in names] == written
    assert second.terminate() == 0, second.output()


@pytest.mark.parametrize("function", ["engine-start", "retry-unanswered"])
def test_a_sigterm_while_it_starts_stops_it_cleanly(
    settings: StackSettings, processes: Processes, function: str
) -> None:
    """The stop signal is heard from the start, not only once the function consumes: a
    supervisor that dies at once must not leave a worker killed without a word."""
    process = processes.runtime(function, settings)
    # Logged once SIGTERM is heard, before the clients are built. (It waited for "metrics
    # on" before, which never came while another process held the metrics port.)
    process.wait_for_output(f"{function}: starting")
    assert process.terminate() == 0, process.output()
    assert f"{function}: stopped" in process.output()
