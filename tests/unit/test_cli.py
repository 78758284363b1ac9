"""The `billing` CLI without a stack: progress, summaries, bills in S3, one-line errors."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from cli.__main__ import main
from cli.api import next_page
from cli.batches import import_requests
from cli.bills import bills_of
from cli.progress import Totals, bar, follow, summary
from cli.runs import runs_of
from functions.storage import Job
from functions.storage.bucket import Bucket
from functions.storage.s3 import S3BillStore
from functions.wire.billing_period import PERIOD_FORMS
from functions.wire.identifiers import WorkflowId
from runtime.config import REPO, FunctionSettings
from tests.helpers.cli import InProcessApi, billing_in_process
from tests.helpers.ports import free_port
from tests.unit.harness import Harness, HarnessApi, client
from tests.unit.runs_by_hand import bill_every_published, billed_by_a_retry, published_workflows

RUN = "run-20261128T001500-0a1b2c3d"


def status(billed: int, failed: int, pending: int, run_id: str = RUN) -> dict[str, Any]:
    failures = [
        {"customerIdentifier": str(n), "state": "failed", "reason": f"reason {n}"}
        for n in range(failed)
    ]
    return {
        "runId": run_id,
        "counts": {"billed": billed, "failed": failed, "pending": pending},
        "done": pending == 0,
        "customers": failures,
    }


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_following_a_run_shows_progress_until_nothing_is_pending() -> None:
    answers = iter([status(0, 0, 4), status(2, 0, 2), status(3, 1, 0)])
    out, clock = io.StringIO(), Clock()
    final = follow([RUN], lambda _: next(answers), out, poll_s=10, clock=clock, sleep=clock.sleep)
    assert final == [status(3, 1, 0)]
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("[" + "." * 30 + "]   0%  0/4 billed, 0 failed, 4 pending")
    # Half done after 10 s: tqdm's estimate of the time left, from the rate so far.
    assert lines[1].startswith("[" + "#" * 15 + "." * 15 + "]  50%  2/4 billed")
    assert lines[1].endswith("0.2 bills/s, 00:10 left")
    assert lines[-1].startswith("[" + "#" * 30 + "] 100%  3/4 billed, 1 failed, 0 pending")
    assert "0.1 bills/s" in lines[-1]


def test_a_run_that_stops_moving_says_where_to_look() -> None:
    answers = iter([status(1, 0, 3)] * 8 + [status(4, 0, 0)])
    out, clock = io.StringIO(), Clock()
    follow([RUN], lambda _: next(answers), out, poll_s=10, clock=clock, sleep=clock.sleep)
    assert out.getvalue().count("no progress for 60s: is the runtime running?") == 1


def test_several_runs_are_followed_as_one() -> None:
    runs = {
        "a": iter([status(1, 0, 1, "a"), status(2, 0, 0, "a")]),
        "b": iter([status(5, 0, 0, "b")] * 2),
    }
    out, clock = io.StringIO(), Clock()
    follow(["a", "b"], lambda run: next(runs[run]), out, clock=clock, sleep=clock.sleep)
    assert "7/7 billed" in out.getvalue().splitlines()[-1]


def test_the_summary_names_each_failure_and_where_the_bills_lie() -> None:
    text = summary([status(3, 1, 0)], 12.34, "bills")
    assert text.splitlines() == [
        "1 run(s) done in 12.3s: 3 billed, 1 failed",
        f"  {RUN}: bills in s3://bills/{RUN}/",
        "    customer 0 failed: reason 0",
    ]
    period = {"billingPeriod": "2026-11", "billedBefore": 2}
    of_a_period = summary([{**status(3, 0, 0), **period}], 1, "bills").splitlines()
    assert of_a_period[0] == "1 run(s) done in 1.0s: 3 billed, 0 failed (2 of them billed before)"
    assert of_a_period[1] == f"  {RUN}: bills in s3://bills/2026-11/"


def test_a_stack_that_is_down_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("COORDINATOR_URL", closed)
    monkeypatch.setenv("CRM_URL", closed)
    for command in (["run", "1", "2"], ["runs", "show", RUN], ["customers", "ls"]):
        assert main(command) == 2
        error = capsys.readouterr().err
        assert error.count("\n") == 1
        assert error.startswith("billing: cannot reach the ")
        assert closed in error and "`make up`" in error
    monkeypatch.setenv("S3_ENDPOINT_URL", closed)
    assert main(["bills", "ls"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("billing: S3 is unavailable: could not list s3://bills/*")
    assert error.count("\n") == 1 and "`make up`" in error


def test_naming_customers_and_all_customers_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run"]) == 2
    assert main(["run", "1", "--all-customers"]) == 2
    assert capsys.readouterr().err.count("--all-customers") == 2


if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@pytest.fixture
def bills(
    s3: S3Client, unit_settings: FunctionSettings, monkeypatch: pytest.MonkeyPatch
) -> S3BillStore:
    monkeypatch.setenv("S3_ENDPOINT_URL", "")  # moto's mock stands in for AWS itself
    return S3BillStore(Bucket(s3, unit_settings.bills_bucket))


def test_bills_are_listed_and_shown_by_key_or_by_customer(
    bills: S3BillStore, capsys: pytest.CaptureFixture[str]
) -> None:
    older, newer = "run-20261127T100000-00000000", "run-20261128T100000-00000000"
    for run_id, text in ((older, "old bill of 1"), (newer, "new bill of 1")):
        bills.create(f"{run_id}/customer-bill-1.txt", text, WorkflowId(f"{run_id}-1"), "t")
    bills.create(f"{newer}/customer-bill-2.txt", "bill of 2", WorkflowId(f"{newer}-2"), "t")

    assert main(["bills", "ls", "--customer", "1"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split()[-1] for line in listed] == [
        f"{older}/customer-bill-1.txt",
        f"{newer}/customer-bill-1.txt",
    ]
    assert main(["bills", "ls", "--run", newer]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2

    assert main(["bills", "show", "2"]) == 0
    assert capsys.readouterr().out == f"# {newer}/customer-bill-2.txt\nbill of 2\n"
    assert main(["bills", "show", f"{older}/customer-bill-1.txt"]) == 0
    assert "old bill of 1" in capsys.readouterr().out

    assert main(["bills", "show", "9"]) == 2
    assert "no bill for customer 9 yet" in capsys.readouterr().err
    assert main(["bills", "show", f"{older}/customer-bill-9.txt"]) == 2
    assert "there is no bill" in capsys.readouterr().err


def test_billing_bills_ls_of_a_retry_shows_its_bill(harness: Harness) -> None:
    """Once: cli/bills.bills_of listed ``<run id>/``: for a retry that
    billed its customer, `billing bills ls --run <retry>` prints "no bills"."""
    _, retry_id = billed_by_a_retry(harness)
    api: Any = HarnessApi(harness)
    listed = [bill.name for bill in bills_of(api, None, retry_id)]
    assert listed, f"billing bills ls --run {retry_id}: no bills"


def test_all_customers_go_out_in_runs_of_the_coordinators_limit() -> None:
    ids = (str(n) for n in range(25_001))
    assert [len(chunk) for chunk in runs_of(ids)] == [10_000, 10_000, 5_001]
    assert list(runs_of([])) == []


@pytest.mark.parametrize(
    ("link", "target"),
    [
        ('</?after=8&limit=100>; rel="next"', "/?after=8&limit=100"),
        ("</customer-ids?after=9>;rel=next", "/customer-ids?after=9"),
        ('</?after=1>; rel="prev", </?after=9>; rel="next"', "/?after=9"),
        ("", None),
        ('</?after=1>; rel="prev"', None),
    ],
)
def test_the_next_page_is_read_from_the_link_header(link: str, target: str | None) -> None:
    assert next_page(link) == target


def test_an_invalid_csv_names_each_bad_line_and_nothing_is_sent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "customers.csv"
    path.write_text(
        "\ufeffcustomerId,firstName,lastName,city,connectionId,connectionMandate\n"
        "1,John,Doe,Eindhoven,8179,2\n\n"
        "2,Jane,,Veldhoven,1721,0\n"
        "1,Twice,Doe,Eindhoven,8179,2\n"
        "3,Too,Many,Columns,1,2,3\n"
    )
    # No stack runs: a request would be a second, different error.
    assert main(["customers", "import", str(path)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"{path}:4: \"lastName\" must be a non-empty string, got ''",
        f"{path}:5: customerId '1' is also at {path}:2",
        f'{path}:6: unknown field "column 7"; a customer has "city", "connectionId",'
        ' "connectionMandate", "customerId", "firstName", "lastName"',
        f"billing: nothing was imported: 3 invalid row(s) in {path}",
    ]


def test_the_cli_starts_without_boto3_tqdm_or_pydantic() -> None:
    # boto3 alone took longer to import than all the rest of `billing --help`; pydantic
    # (the HTTP functions' models) is not the CLI's to load either.
    code = (
        "import sys, cli.__main__; print(sorted({'boto3', 'tqdm', 'pydantic'} & set(sys.modules)))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert loaded.stdout.strip() == "[]"


@pytest.mark.parametrize("batch", ["0", "-1", "1001", "²", "ten"])
def test_a_bad_batch_size_is_refused_in_one_line(
    batch: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "customers.csv"
    path.write_text("customerId,firstName,lastName,city,connectionId,connectionMandate\n")
    with pytest.raises(SystemExit) as exited:
        main(["customers", "import", str(path), "--batch", batch])
    assert exited.value.code == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1].endswith(f"{batch!r} is not a number of customers from 1 to 1000")


def test_a_field_the_csv_reader_cannot_take_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "customers.csv"
    path.write_text(
        "customerId,firstName,lastName,city,connectionId,connectionMandate\n"
        f"1,{'x' * 131_073},Doe,Eindhoven,8179,2\n"
    )
    assert main(["customers", "import", str(path)]) == 2
    (err,) = capsys.readouterr().err.splitlines()
    assert err.startswith(f"billing: nothing was imported: {path}: line 2: field larger")


def test_every_request_of_an_import_is_sized_before_the_first_is_sent() -> None:
    row = {"firstName": "é" * 200, "lastName": "L", "city": "C"}
    rows = [(line, row) for line in range(2, 1202)]
    requests = import_requests(rows, 1000)
    # As the CLI sends it, each "é" is 6 bytes ("\u00e9"): 839 rows fill a MiB.
    assert [len(r) for r in requests] == [839, 361], "each under 1 MiB and 1,000 rows"
    assert all(len(json.dumps([v for _, v in r]).encode()) <= 1 << 20 for r in requests)
    assert import_requests(rows, 1000) == requests, "the same file, the same requests"
    assert [len(r) for r in import_requests(rows[:10], 4)] == [4, 4, 2]


@pytest.fixture(autouse=True)
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The CLI's state folder, the test's own."""
    monkeypatch.setenv("BILLING_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


@pytest.fixture
def stack(harness: Harness, state: Path, monkeypatch: pytest.MonkeyPatch) -> InProcessApi:
    harness.services.seeded_customers()
    return billing_in_process(monkeypatch, client, harness.publisher, state)


@pytest.mark.parametrize("period", ["2026-13", "26-11", "2026-Q5", "2027-02-29", "2026/11"])
def test_a_bad_period_is_a_usage_error_before_anything_is_sent(
    period: str, stack: InProcessApi, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in (["run", "1", "--period", period], ["periods", "show", period]):
        with pytest.raises(SystemExit) as exited:
            main(command)
        assert exited.value.code == 2
        assert (
            capsys.readouterr()
            .err.splitlines()[-1]
            .endswith(f"{period!r} is not a billing period; {PERIOD_FORMS}")
        )
    assert stack.posts == []


def test_a_periods_books_are_shown_a_page_at_a_time(
    stack: InProcessApi, harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "1", "2", "--period", "2026-11"]) == 0
    run_id = published_workflows(harness)[0].workflow_id.run_id
    assert run_id is not None
    bill_every_published(harness, {run_id})
    assert main(["run", "3", "--period", "2026-11"]) == 0
    failed = published_workflows(harness)[-1].workflow_id
    job = Job(failed, "3", "t", "t", period="2026-11")
    harness.services.context.failures.record(job, "the CRM did not answer", "t")
    capsys.readouterr()

    assert main(["periods", "show", "2026-11", "--limit", "4"]) == 0
    assert [" ".join(line.split()) for line in capsys.readouterr().out.splitlines()] == [
        "2026-11: 8 customer(s) of the CRM: 2 billed, 1 failed, 5 not billed",
        "CUSTOMER STATE BILL OR REASON RUN",
        f"1 billed 2026-11/customer-bill-1.txt {run_id}",
        f"2 billed 2026-11/customer-bill-2.txt {run_id}",
        f"3 failed the CRM did not answer {failed.run_id}",
        "4 unbilled",
        "more: billing periods show 2026-11 --limit 4 --after 4 (or --all)",
    ]
    assert main(["periods", "show", "2026-11", "--limit", "3", "--all"]) == 0
    every = capsys.readouterr().out.splitlines()
    assert len(every) == 2 + 8 and not every[-1].startswith("more:")
    assert main(["periods", "show", "2026-11", "--state", "unbilled", "--after", "6"]) == 0
    assert [line.split()[:2] for line in capsys.readouterr().out.splitlines()[2:]] == [
        ["7", "unbilled"],
        ["8", "unbilled"],
    ]


@pytest.mark.parametrize(
    ("command", "most", "of"),
    [
        (["customers", "ls"], 500, "customers"),
        (["runs", "ls"], 100, "runs"),
        (["periods", "show", "2026-11"], 1000, "customers"),
    ],
)
def test_a_page_size_the_server_would_refuse_is_a_usage_error(
    command: list[str], most: int, of: str, stack: InProcessApi, capsys: pytest.CaptureFixture[str]
) -> None:
    for limit in ("0", str(most + 1), "-1", "ten"):
        with pytest.raises(SystemExit) as exited:
            main([*command, "--limit", limit])
        assert exited.value.code == 2
        error = capsys.readouterr().err.splitlines()[-1]
        assert error.endswith(f"{limit!r} is not a number of {of} from 1 to {most}")
    # The bounds are the servers' own.
    path = {"customers": "/", "runs": "/runs", "periods": "/periods/2026-11"}[command[0]]
    served = client("crm" if command[0] == "customers" else "coordinator")
    assert served.get(f"{path}?limit={most}").status_code == 200
    assert served.get(f"{path}?limit={most + 1}").status_code == 400
    assert main([*command, "--limit", str(most)]) == 0


def test_a_csv_naming_a_column_twice_imports_nothing(
    stack: InProcessApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "customers.csv"
    path.write_text(
        "customerId,firstName,lastName,city,connectionId,customerId\n1,Ada,L,Delft,7,2\n"
    )
    assert main(["customers", "import", str(path)]) == 2
    (error,) = capsys.readouterr().err.splitlines()
    assert error == (
        f"billing: nothing was imported: {path}: line 1 names the column customerId twice"
    )
    assert client("crm").get("/?customerId=2").get_json()["firstName"] == "Jane"


def test_the_rate_counts_only_the_bills_the_runs_wrote() -> None:
    """A run of a billed period is done at once: its customers billed before are no rate."""
    status = {"counts": {"billed": 8, "failed": 0, "pending": 0}, "billedBefore": 6}
    line = bar(Totals.of([status]), elapsed_s=2.0)
    assert "8/8 billed, 0 failed, 0 pending  1.0 bills/s" in line


def test_an_invalid_csv_counts_the_rows_refused_not_their_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "customers.csv"
    path.write_text("customerId,firstName,lastName,city,connectionId,connectionMandate\n1,Ada\n")
    assert main(["customers", "import", str(path)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) > 2  # each problem of the row on a line of its own
    assert err[-1] == f"billing: nothing was imported: 1 invalid row(s) in {path}"
