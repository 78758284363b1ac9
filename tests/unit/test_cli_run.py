"""`billing run` without a stack: the customers it bills (those named, every one, those
with no bill in a period), the period it sends, and its plan: every POST keyed, kept until
every run went out, so that the same command run again after a failure bills nobody
twice."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

import cli.runs as cli_runs
from cli.__main__ import main
from cli.run_plans import Command
from functions.storage import Job
from tests.helpers.cli import InProcessApi, billing_in_process
from tests.helpers.lab import ADA
from tests.unit.harness import Harness, S3Harness, client
from tests.unit.runs_by_hand import bill_every_published, published_workflows


@pytest.fixture
def state(tmp_path: Path) -> Path:
    """The CLI's state folder, the test's own."""
    return tmp_path / "state"


@pytest.fixture
def stack(harness: Harness, state: Path, monkeypatch: pytest.MonkeyPatch) -> InProcessApi:
    harness.services.seeded_customers()
    return billing_in_process(monkeypatch, client, harness.publisher, state)


@pytest.fixture
def s3_stack(s3_harness: S3Harness, state: Path, monkeypatch: pytest.MonkeyPatch) -> InProcessApi:
    """The stack on moto: for a command that reads the bills, which the CLI lists through
    an S3 client of its own (``cli/api.py``), not through the functions."""
    s3_harness.services.seeded_customers()
    return billing_in_process(monkeypatch, client, s3_harness.publisher, state)


def bill_what_was_published(harness: Harness) -> None:
    bill_every_published(
        harness, {w.workflow_id.run_id or "" for w in published_workflows(harness)}
    )


def test_a_run_of_a_period_sends_it_and_says_who_was_billed_in_it_already(
    stack: InProcessApi, harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "1", "2", "--period", "2026-11"]) == 0
    bill_what_was_published(harness)
    capsys.readouterr()
    assert main(["run", "1", "2", "3", "--period", "2026-11"]) == 0
    started, hint = capsys.readouterr().out.splitlines()
    run_id = started.split(":")[0]
    assert started == f"{run_id}: 1 customer(s) on their way, 2 billed in 2026-11 already"
    assert hint == f"follow it with: billing runs show {run_id}"
    assert [body["billingPeriod"] for _, body in stack.posts] == ["2026-11", "2026-11"]


def test_unbilled_bills_exactly_the_customers_with_no_bill_in_the_period(
    s3_stack: InProcessApi, s3_harness: S3Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "1", "3", "--period", "2026-11"]) == 0
    assert main(["run", "5", "--period", "2026-10"]) == 0  # billed, but in another period
    bill_what_was_published(s3_harness)
    assert main(["run", "2", "--period", "2026-11"]) == 0
    failed = published_workflows(s3_harness)[-1].workflow_id
    job = Job(failed, "2", "t", "t", period="2026-11")
    s3_harness.services.context.failures.record(job, "no answer", "t")  # failed: still no bill
    capsys.readouterr()
    assert main(["run", "--period", "2026-11", "--unbilled"]) == 0
    assert s3_stack.posted()[3:] == [["2", "4", "5"], ["6", "7", "8"]]
    assert capsys.readouterr().out.startswith(
        "6 of the CRM's 8 customer(s) have no bill in 2026-11\n"
    )

    bill_what_was_published(s3_harness)
    assert main(["run", "--period", "2026-11", "--unbilled"]) == 0
    assert (
        capsys.readouterr().out
        == "every customer of the CRM is billed in 2026-11; nothing to bill\n"
    )
    assert len(s3_stack.posts) == 5


@pytest.mark.parametrize(
    ("command", "said"),
    [
        (["--unbilled"], "--unbilled needs --period"),
        (["1", "--period", "2026-11", "--unbilled"], "give no customer ids and not --all"),
        (["--all-customers", "--period", "2026-11", "--unbilled"], "and not --all-customers"),
        (["1", "--all-customers"], "give customer ids or --all-customers, not both"),
        ([], "name the customers to bill"),
    ],
)
def test_a_run_of_customers_chosen_twice_or_not_at_all_is_refused(
    command: list[str], said: str, stack: InProcessApi, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", *command]) == 2
    (error,) = capsys.readouterr().err.splitlines()
    assert error.startswith("billing: ") and said in error
    assert stack.posts == []


def test_every_post_has_a_key_of_the_plan_kept_until_every_run_went_out(
    stack: InProcessApi, state: Path
) -> None:
    assert main(["run", "--all-customers"]) == 0
    keys = [key for key, _ in stack.posts]
    plan_key = keys[0].rpartition("-")[0]
    assert sorted(keys) == [f"{plan_key}-{n}" for n in (1, 2, 3)]
    assert sorted(map(sorted, stack.posted())) == [["1", "2", "3"], ["4", "5", "6"], ["7", "8"]]
    plan = Command(stack.settings.coordinator_address, all_customers=True)
    assert stack.plans_at_post == [[f"run-plan-{plan.digest}.json"]] * 3
    assert list(state.iterdir()) == [], "every run went out: the plan is gone"


@pytest.mark.parametrize("period", [None, "2026-11"])
def test_a_rerun_of_a_billing_run_a_503_stopped_bills_nobody_twice(
    period: str | None,
    stack: InProcessApi,
    harness: Harness,
    state: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    command = ["run", "--all-customers", *(["--period", period] if period else [])]
    stack.refused = {2}
    assert main(command) == 2
    first = capsys.readouterr()
    error = first.err.splitlines()[-1]  # after the coordinator's own log line
    assert error.startswith("billing: the coordinator answered 503: Kafka at 127.0.0.1:9092")
    assert error.endswith(
        f"; 2 of the 3 run(s) went out. Run `billing {' '.join(command)}` again to finish"
        " it: it sends the same runs with the same keys, so the runs that went out are not"
        " started again"
    )
    went_out = {line.split(":")[0] for line in first.out.splitlines()}
    assert len(list(state.iterdir())) == 1, "the plan stays"
    # A customer added since is not in the runs planned: they are not read again; with a
    # period, the command then bills the CRM's customers with no bill of it yet, as asked.
    created = client("crm").post(
        "/customers", json={**ADA, "connectionId": "1", "connectionMandate": "1"}
    )
    assert created.status_code == 201, created.get_json()

    followed: list[str] = []

    def follow(run_ids: list[str], _: object) -> None:
        followed.extend(run_ids)
        bill_what_was_published(harness)

    monkeypatch.setattr(cli_runs, "follow", follow)
    assert main([*command, "--wait"]) == 0  # --wait is no part of what the command bills
    again = capsys.readouterr().out.splitlines()
    assert again[0].startswith(f"finishing the `billing {' '.join(command)}` begun at 20")
    replayed = {
        line.split(":")[0] for line in again if "(it went out before: the same run)" in line
    }
    assert replayed == went_out
    assert sorted(stack.posts[3:6]) == sorted(stack.posts[:3]), "the same runs, the same keys"
    assert list(state.iterdir()) == []
    if period is None:
        customers = [w.customer_identifier for w in published_workflows(harness)]
        assert sorted(customers) == [str(n) for n in range(1, 9)], "each customer in one run"
        assert len(followed) == 3 and went_out < set(followed), "--wait follows every run"
        assert again[4].startswith("3 run(s) done in ")
        assert again[4].endswith("8 billed, 0 failed")
        return
    bills = harness.services.context.bills.names(f"{period}/")
    billed = sorted(name.split("customer-bill-")[1].removesuffix(".txt") for name in bills)
    everyone = [str(n) for n in range(1, 9)] + [created.get_json()["customerId"]]
    assert billed == sorted(everyone), "each customer of the CRM once in the period"
    assert went_out < set(followed), "--wait follows every run"


def test_new_forgets_an_unfinished_run_and_starts_afresh(
    stack: InProcessApi, state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.refused = {1}
    assert main(["run", "1", "2"]) == 2
    capsys.readouterr()
    assert main(["run", "1", "2", "--new"]) == 0
    said = capsys.readouterr().out.splitlines()[0]
    assert said.startswith("forgot the unfinished `billing run 1 2` begun at 20")
    assert said.endswith(": the customers of its runs that went out are billed again")
    (old_key, _), (new_key, _) = stack.posts
    assert old_key.rpartition("-")[0] != new_key.rpartition("-")[0]
    assert list(state.iterdir()) == []


def test_a_run_the_coordinator_refuses_as_asked_keeps_no_plan_to_finish(
    stack: InProcessApi, state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "1", "1"]) == 2
    error = capsys.readouterr().err.splitlines()[-1]
    assert error.startswith("billing: the coordinator answered 400: ")
    assert "repeats customer '1'" in error and "again" not in error
    assert list(state.iterdir()) == [], "the same command would be refused again"


def test_a_state_folder_that_cannot_be_written_stops_a_run_before_any_post(
    stack: InProcessApi,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "a-file").write_text("")
    unwritable = str(tmp_path / "a-file" / "billing")
    monkeypatch.setattr(stack, "settings", replace(stack.settings, billing_state_dir=unwritable))
    assert main(["run", "1"]) == 2
    (error,) = capsys.readouterr().err.splitlines()
    assert error.startswith(f"billing: cannot keep the run's plan in {tmp_path}/a-file/billing (")
    assert error.endswith("Set BILLING_STATE_DIR to a folder you can write")
    assert stack.posts == []


def test_a_plan_is_the_same_commands_against_the_same_coordinator() -> None:
    one = Command("http://a:3007", ("1", "2"), period="2026-11")
    assert one.digest == Command("http://a:3007", ("1", "2"), period="2026-11").digest
    others = [
        Command("http://b:3007", ("1", "2"), period="2026-11"),
        Command("http://a:3007", ("2", "1"), period="2026-11"),
        Command("http://a:3007", ("1", "2")),
        Command("http://a:3007", all_customers=True, period="2026-11"),
        Command("http://a:3007", unbilled=True, period="2026-11"),
    ]
    assert len({one.digest, *(other.digest for other in others)}) == 6
    assert str(one) == "billing run 1 2 --period 2026-11"


def test_two_of_the_same_billing_run_at_once_keep_one_plan_and_bill_nobody_twice(
    stack: InProcessApi, harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """B runs (and a 503 stops it) while A reads the CRM: A finds B's plan as it writes its
    own, and finishes B's rather than overwrite it (the same command at once is one plan).
    B run again, its plan finished, is a new run: two commands, each customer billed twice
    at most, never three times."""
    command = ["run", "1", "2", "3", "4", "5", "6"]
    real_customers = cli_runs._customers
    b_ran: list[bool] = []

    def a_reads_the_crm_while_b_runs(api: object, args: object) -> list[str]:
        if not b_ran:
            b_ran.append(True)
            stack.refused = {2}  # B's second post: a 503
            assert main(command) == 2  # B
            stack.refused = set()
        return list(real_customers(api, args))  # type: ignore[arg-type]

    monkeypatch.setattr(cli_runs, "_customers", a_reads_the_crm_while_b_runs)
    assert main(command) == 0  # A: B's plan, finished
    monkeypatch.setattr(cli_runs, "_customers", real_customers)
    assert main(command) == 0  # B again: nothing left of its plan, a new run
    keys = [key for key, _ in stack.posts]
    assert keys[:2] == keys[2:4], "A posted B's runs under B's keys"
    published = Counter(w.customer_identifier for w in published_workflows(harness))
    assert published == dict.fromkeys(["1", "2", "3", "4", "5", "6"], 2), published


def test_a_plan_begun_a_day_ago_is_finished_only_when_asked(
    stack: InProcessApi, harness: Harness, state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """November's `billing run --all-customers` stopped by a 503; in December the same
    command must not silently finish November's runs in place of December's."""
    stack.refused = {2}
    assert main(["run", "--all-customers"]) == 2  # November
    stack.refused = set()
    (plan_file,) = state.iterdir()
    plan = json.loads(plan_file.read_text())
    plan_file.write_text(json.dumps({**plan, "began": "2026-11-01T06:00:00Z"}))
    capsys.readouterr()
    assert main(["run", "--all-customers"]) == 2  # December
    refusal = capsys.readouterr().err.splitlines()[-1]
    assert "begun at 2026-11-01T06:00:00Z waits: give --resume to finish it" in refusal
    assert "or --new to forget it and start afresh" in refusal
    harness.publisher.published.clear()
    assert main(["run", "--all-customers", "--new"]) == 0
    december = sorted((w.customer_identifier for w in published_workflows(harness)), key=int)
    assert december == [str(n) for n in range(1, 9)], "every customer billed for December"
    stack.refused = {len(stack.posts) + 2}
    assert main(["run", "1", "2", "3", "4", "5", "6"]) == 2
    stack.refused = set()
    (plan_file,) = state.iterdir()
    plan = json.loads(plan_file.read_text())
    plan_file.write_text(json.dumps({**plan, "began": "2026-11-01T06:00:00Z"}))
    assert main(["run", "1", "2", "3", "4", "5", "6", "--resume"]) == 0
    assert list(state.iterdir()) == []


def test_unbilled_run_again_after_a_503_bills_a_customer_added_since(
    s3_stack: InProcessApi, s3_harness: S3Harness
) -> None:
    """The command promises every customer with no bill in the period: finishing the
    plan a 503 stopped is not enough when the CRM has grown since."""
    s3_stack.refused = {2}
    assert main(["run", "--period", "2026-11", "--unbilled"]) == 2
    s3_stack.refused = set()
    bill_what_was_published(s3_harness)
    created = client("crm").post(
        "/customers", json={**ADA, "connectionId": "1", "connectionMandate": "1"}
    )
    assert main(["run", "--period", "2026-11", "--unbilled"]) == 0
    bill_what_was_published(s3_harness)
    names = s3_harness.services.context.bills.names("2026-11/")
    billed = {name.split("customer-bill-")[1].removesuffix(".txt") for name in names}
    assert created.get_json()["customerId"] in billed
    assert len(billed) == 9


def test_runs_show_names_the_run_that_billed_a_customer_before(
    stack: InProcessApi, harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "1", "--period", "2026-11"]) == 0
    first = capsys.readouterr().out.split(":")[0]
    bill_what_was_published(harness)
    assert main(["run", "1", "2", "--period", "2026-11"]) == 0
    second = capsys.readouterr().out.split(":")[0]
    assert main(["runs", "show", second]) == 0
    shown = capsys.readouterr().out.splitlines()
    assert ", of 2026-11): 2 customer(s): 1 billed, 0 failed, 1 pending" in shown[0]
    assert shown[2].split(maxsplit=2) == [
        "1",
        "billed",
        f"2026-11/customer-bill-1.txt (billed before by {first})",
    ]
