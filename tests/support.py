"""Helpers shared by the integration and end-to-end tiers: real Kafka, real S3 server, processes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

from functions.messages import Customer
from functions.storage import records
from functions.storage.bucket import Bucket
from infra.components import http_answers
from infra.provision import provision
from runtime.config import Settings
from runtime.services import Services, s3_client

REPO = Path(__file__).resolve().parent.parent
T = TypeVar("T")


def isolated(base: Settings) -> Settings:
    """Settings with topics, buckets and consumer groups of their own, provisioned."""
    tag = "t" + uuid.uuid4().hex[:10]
    settings = replace(
        base,
        workflow_topic=f"{tag}-workflow-queue",
        questions_topic=f"{tag}-questions-topic",
        answers_topic=f"{tag}-answers-topic",
        bills_bucket=f"{tag}-bills",
        jobs_bucket=f"{tag}-billing-jobs",
        customers_bucket=f"{tag}-crm-customers",
        consumer_group_prefix=f"{tag}-",
        storage_retry_s=5.0,
        metrics_port=0,  # a test's processes never take the port of a stack running beside
    )
    provision(settings)
    return settings


def wait_for(what: str, probe: Callable[[], T | None], timeout_s: float = 60) -> T:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = probe()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")


def produce(settings: Settings, topic: str, values: Sequence[bytes | dict[str, Any]]) -> None:
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap_servers})
    for value in values:
        raw = value if isinstance(value, bytes) else json.dumps(value).encode()
        producer.produce(topic, raw)
    assert producer.flush(15) == 0, "Kafka did not take the test messages"


class TopicReader:
    """Reads a topic from its start, accumulating what it has seen."""

    def __init__(self, settings: Settings, topic: str) -> None:
        self.records: list[Any] = []
        self._consumer = Consumer(
            {
                "bootstrap.servers": settings.kafka_bootstrap_servers,
                "group.id": f"reader-{uuid.uuid4().hex}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
        self._consumer.subscribe([topic])

    def read(self, count: int, timeout_s: float = 60) -> list[Any]:
        deadline = time.monotonic() + timeout_s
        while len(self.records) < count and time.monotonic() < deadline:
            message = self._consumer.poll(0.5)
            if message is not None and message.error() is None:
                self.records.append(message)
        assert len(self.records) >= count, f"{len(self.records)} of {count} records arrived"
        return self.records

    def values(self, count: int, timeout_s: float = 60) -> list[Any]:
        return [json.loads(record.value()) for record in self.read(count, timeout_s)]

    def quiet_for(self, seconds: float) -> int:
        """Keep reading for ``seconds``; return how many records arrived meanwhile."""
        before = len(self.records)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            message = self._consumer.poll(0.2)
            if message is not None and message.error() is None:
                self.records.append(message)
        return len(self.records) - before

    def close(self) -> None:
        self._consumer.close()


def bill(settings: Settings, name: str) -> bytes | None:
    """A bill's bytes as they are in S3, or None."""
    return Bucket(s3_client(settings), settings.bills_bucket).get_bytes(name)


def group_members(settings: Settings, group: str) -> list[Any]:
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap_servers})
    future = admin.describe_consumer_groups([group], request_timeout=10)[group]
    return list(future.result().members)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Process:
    """A process started as a user starts it, with its output in a log file."""

    def __init__(
        self,
        command: Sequence[str],
        settings: Settings,
        log: Path,
        clean_exits: tuple[int, ...] = (0,),
    ) -> None:
        self.log = log
        self.killed = False
        self.clean_exits = clean_exits
        # A broker whose cluster lost its quorum cannot finish a controlled shutdown.
        self.may_hang = False
        env = {**os.environ, **settings.to_env(), "PYTHONUNBUFFERED": "1"}
        with log.open("wb") as out:
            self.popen = subprocess.Popen(
                list(command), cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT
            )

    def raw_output(self) -> str:
        return self.log.read_text(errors="replace")

    def log_lines(self) -> list[dict[str, Any]]:
        """The process's JSON log lines, parsed; lines of other writers are left out."""
        return [line for line in map(_json_line, self.raw_output().splitlines()) if line]

    def output(self) -> str:
        """The output as a person reads it: a JSON log line becomes its level, logger,
        message and traceback; other lines stay as they are."""
        readable = []
        for raw in self.raw_output().splitlines():
            line = _json_line(raw)
            if line is None:
                readable.append(raw)
                continue
            readable.append(f"{line['level']} {line['logger']}: {line['message']}")
            if "error" in line:
                readable.append(str(line["error"]))
        return "\n".join(readable) + "\n"

    def wait_for_output(self, text: str, timeout_s: float = 60) -> None:
        wait_for(f"{text!r} in {self.log.name}", lambda: text in self.output() or None, timeout_s)

    def terminate(self, timeout_s: float = 30) -> int:
        """SIGTERM, as an orchestrator stops it; the exit code."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            if self.may_hang:
                self.killed = True
                return self.popen.wait()
            raise AssertionError(f"{self.log.name} ignored SIGTERM for {timeout_s}s") from None

    def kill(self) -> None:
        """SIGKILL, as a crash: nothing gets committed."""
        self.killed = True
        self.popen.kill()
        self.popen.wait()


def _json_line(raw: str) -> dict[str, Any] | None:
    if not raw.startswith("{"):
        return None
    try:
        line = json.loads(raw)
    except ValueError:
        return None
    return line if isinstance(line, dict) and "message" in line else None


class Processes:
    """The processes of one test. Teardown stops those still running with SIGTERM and
    requires every one not killed on purpose to have exited with 0."""

    def __init__(self, logs: Path) -> None:
        self._logs = logs
        self._started: list[Process] = []

    def start(
        self,
        command: Sequence[str],
        settings: Settings,
        name: str,
        clean_exits: tuple[int, ...] = (0,),
    ) -> Process:
        process = Process(command, settings, self._logs / f"{name}.log", clean_exits)
        self._started.append(process)
        return process

    @property
    def started(self) -> list[Process]:
        return list(self._started)

    def runtime(self, function: str, settings: Settings, name: str | None = None) -> Process:
        return self.start([sys.executable, "-m", "runtime", function], settings, name or function)

    def stop_all(self) -> None:
        """Newest first, so the functions stop before the brokers they talk to; every one
        is stopped even when an earlier one fails to stop."""
        failures = []
        for process in reversed(self._started):
            try:
                code = process.terminate(10 if process.may_hang else 30)
            except AssertionError as exc:
                failures.append(str(exc))
                continue
            if code not in process.clean_exits and not process.killed:
                failures.append(
                    f"{process.log.name} exited with {code}:\n{process.output()[-3000:]}"
                )
        assert not failures, "\n".join(failures)


def seed_customers(settings: Settings, count: int) -> list[str]:
    """``count`` synthetic customers in the CRM's store; their ids."""
    customers = [
        Customer(str(1000 + n), f"First{n}", f"Last{n}", "Utrecht", str(5000 + n), "1")
        for n in range(count)
    ]
    Services(settings).context.customers.seed(customers)
    return [customer.customer_id for customer in customers]


def bill_names(settings: Settings) -> list[str]:
    return list(Bucket(s3_client(settings), settings.bills_bucket).names())


def job_outcomes(settings: Settings) -> dict[str, list[str]]:
    """Workflow keys by outcome: waiting ("pending"), "failed", and billed ("completed")."""
    client = s3_client(settings)
    jobs = Bucket(client, settings.jobs_bucket)
    bills = Bucket(client, settings.bills_bucket)
    # Each bill says in its metadata which workflow wrote it.
    billed = [(bills.metadata(name) or {}).get("workflow-id", "?") for name in bills.names()]
    failed = list(jobs.stems("failed/"))
    # A job waits while a batch lists it and it has neither a bill nor a failure.
    listed = {
        job.workflow_id.key
        for key in jobs.names("waiting/")
        for job in records.to_jobs(jobs.get_json(key) or {"jobs": []})
    }
    pending = sorted(listed - set(billed) - set(failed))
    return {"pending": pending, "completed": billed, "failed": failed}


def topic_records(settings: Settings, topic: str, quiet_s: float = 3.0) -> list[Any]:
    """Every committed record a topic holds, read until it stays quiet for ``quiet_s``."""
    reader = TopicReader(settings, topic)
    try:
        reader.quiet_for(quiet_s)
        while reader.quiet_for(quiet_s):
            pass
        return reader.records
    finally:
        reader.close()


def start_http_function(
    processes: Processes, settings: Settings, target: str, name: str | None = None
) -> tuple[str, Process]:
    """A functions-framework target started as the README says: its URL once it answers,
    and its process."""
    port = free_port()
    functions_framework = str(Path(sys.executable).parent / "functions-framework")
    command = [functions_framework, "--target", target, "--port", str(port)]
    process = processes.start(command, settings, name or target)
    url = f"http://127.0.0.1:{port}/"
    # Asked for one customer, not all of them, the CRM answers at once whatever it holds.
    probe = url + "?customerId=1" if target == "crm" else url
    wait_for(f"{target} at {url} to answer", lambda: http_answers(probe), timeout_s=30)
    return url, process


def stack_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a whole stack of a test's own (`make up` with its own state
    folder and ports), beside any other stack on the machine."""
    from tests.faults import free_port_block

    coordinator, crm = free_port(), free_port()
    return {
        **os.environ,
        "STATE_DIR": str(tmp_path / "state"),
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port_block(2)}",
        "S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
        "COORDINATOR_PORT": str(coordinator),
        "CRM_PORT": str(crm),
        "COORDINATOR_URL": f"http://127.0.0.1:{coordinator}",
        "CRM_URL": f"http://127.0.0.1:{crm}",
        "METRICS_PORT": "0",
        "BROKERS": "1",
        "S3_LATENCY_MS": "0",
        "LOG_FORMAT": "text",
    }


def run_module(env: dict[str, str], *command: str, check: bool = True) -> str:
    """``python -m <command>`` as a user runs it; its output."""
    done = subprocess.run(
        [sys.executable, "-m", *command],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if check:
        assert done.returncode == 0, f"{command} exited with {done.returncode}:\n{done.stderr}"
    return done.stdout + done.stderr


LAB_WORKFLOW = {
    "workflow-type": "bill-generation",
    "workflow-id": 1616523703935.42,
    "create-time": "2021-03-23T18:21:43.935Z",
    "payload": {"customerIdentifier": "1"},
}


def workflow(workflow_id: str | float, customer: str = "1") -> dict[str, object]:
    """A bill-generation workflow's JSON as the lab's coordinator writes it."""
    return {**LAB_WORKFLOW, "workflow-id": workflow_id, "payload": {"customerIdentifier": customer}}


def closed(settings: Settings, count: int) -> Callable[[], dict[str, list[str]] | None]:
    """A probe: the job outcomes once ``count`` jobs are billed or failed."""

    def probe() -> dict[str, list[str]] | None:
        outcomes = job_outcomes(settings)
        done = len(outcomes["completed"]) + len(outcomes["failed"])
        return outcomes if done >= count and not outcomes["pending"] else None

    return probe


def dead_letters(settings: Settings) -> int:
    """How many records the three dead-letter topics hold."""
    sources = (settings.workflow_topic, settings.questions_topic, settings.answers_topic)
    return sum(len(topic_records(settings, settings.dead_letter_topic(t), 1)) for t in sources)


def assert_billed_exactly_once(
    settings: Settings,
    outcomes: dict[str, list[str]],
    bills: list[str],
    workflows: Iterable[str] | None = None,
) -> None:
    """Each customer billed exactly once: the bills are ``bills`` and no other, a bill for
    each workflow (``workflows``, when the test knows them), none failed, none waiting, and
    the dead-letter topics empty."""
    assert sorted(bill_names(settings)) == sorted(bills)
    completed = sorted(outcomes["completed"])
    if workflows is not None:
        assert completed == sorted(workflows)
    assert len(completed) == len(bills), "a workflow billed twice, or one bill for two"
    assert outcomes["failed"] == []
    assert outcomes["pending"] == []
    assert dead_letters(settings) == 0
