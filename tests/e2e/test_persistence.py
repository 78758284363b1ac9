"""What a user keeps: the local S3 server's objects outlive a crash of the server and a
`make down` / `make up` of the whole stack, on a stack of the test's own."""

from __future__ import annotations

import signal
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from functions.storage import Job, Run
from functions.wire.identifiers import WorkflowId
from functions.wire.messages import Customer
from infra import s3server
from infra.components import http_answers
from runtime.config import StackSettings
from runtime.services import Services, s3_client
from tests.helpers.ports import free_port
from tests.helpers.processes import Processes, run_module, stack_env
from tests.helpers.waiting import wait_for

pytestmark = pytest.mark.slow

JOHN = Customer("1", "John", "Doe", "Eindhoven", "8179", "1")


def _s3_server(processes: Processes, state: Path, port: int, name: str) -> None:
    command = s3server.prepare(state, "127.0.0.1", port, StackSettings.from_env())
    # A JVM killed by SIGKILL exits with 137; one stopped by SIGTERM with 143.
    processes.start(command, StackSettings(), name, clean_exits=(0, 143))
    wait_for("the S3 server", lambda: http_answers(f"http://127.0.0.1:{port}"))


def test_a_crash_of_the_s3_server_loses_no_object(processes: Processes, tmp_path: Path) -> None:
    port = free_port()
    _s3_server(processes, tmp_path, port, "s3-first")
    settings = StackSettings(s3_endpoint_url=f"http://127.0.0.1:{port}")
    client = s3_client(settings)
    for bucket in settings.all_buckets:
        client.create_bucket(Bucket=bucket)
    context = Services(settings, s3=client).context
    bills, customers = context.bills, context.customers
    runs = Services(settings, s3=client).runs
    waiting = Job(
        WorkflowId("run-1-2"), "2", "2026-11-29T00:00:00.000Z", "2026-11-29T00:00:00.000Z"
    )
    assert bills.create(
        "run-1/customer-bill-1.txt", "Bill for John Doe", WorkflowId("run-1-1"), "t"
    )
    context.new_jobs.create(waiting)
    runs.save(Run("run-1", "2026-11-29T00:00:00.000Z", ("1", "2"), published=True))
    assert customers.add(JOHN)

    processes.started[-1].kill()  # kill -9: no shutdown, nothing flushed on the way out
    _s3_server(processes, tmp_path, port, "s3-second")

    assert bills.text("run-1/customer-bill-1.txt") == "Bill for John Doe"
    assert context.answer_jobs.find(WorkflowId("run-1-2")) == waiting
    assert runs.get("run-1") == Run("run-1", "2026-11-29T00:00:00.000Z", ("1", "2"), True)
    assert customers.get("1") == JOHN
    # A created bill still refuses to be created again.
    assert not bills.create("run-1/customer-bill-1.txt", "changed", WorkflowId("run-1-1"), "t")


def test_make_down_and_up_keep_bills_runs_jobs_and_customers(tmp_path: Path) -> None:
    # The waiting job is days overdue: with the default timeout the stack's sweep would ask
    # its question again and bill it (the job ends) whenever the machine is slow enough.
    env = {**stack_env(tmp_path), "ANSWER_TIMEOUT_S": str(10 * 365 * 86400)}
    try:
        run_module(env, "infra.stack", "up")
        ran = run_module(env, "cli", "run", "1", "2", "--wait")
        run_id = ran.split(":")[0].strip()
        settings = StackSettings.from_env(env)
        context = Services(settings).context
        waiting = Job(
            WorkflowId("lab-7"), "7", "2026-11-29T00:00:00.000Z", "2026-11-29T00:00:00.000Z"
        )
        context.new_jobs.create(waiting)
        run_module(env, "infra.stack", "down")
        run_module(env, "infra.stack", "up")

        shown = run_module(env, "cli", "runs", "show", run_id)
        assert "2 billed, 0 failed, 0 pending" in shown, shown
        assert "Bill for John Doe" in run_module(env, "cli", "bills", "show", "1")
        assert "Mary Bertrand" in run_module(env, "cli", "customers", "ls")
        assert Services(settings).context.answer_jobs.find(WorkflowId("lab-7")) == waiting
    finally:
        run_module(env, "infra.stack", "down", check=False)
    status = run_module(env, "infra.stack", "status", check=False)
    assert "running" not in status, status


def test_the_s3_server_wants_the_stack_credentials_and_stops_on_sigterm(
    processes: Processes, tmp_path: Path
) -> None:
    port = free_port()
    _s3_server(processes, tmp_path, port, "s3")
    server = processes.started[-1]
    stranger = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{port}",
        aws_access_key_id="someone",
        aws_secret_access_key="else",
        region_name="us-east-1",
    )
    with pytest.raises(ClientError) as refused:
        stranger.list_buckets()
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "s3proxy.endpoint=http://127.0.0.1:" in (tmp_path / "s3" / "s3proxy.conf").read_text()

    server.popen.send_signal(signal.SIGTERM)
    assert server.popen.wait(30) in (0, 143)
