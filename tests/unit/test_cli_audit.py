"""`billing audit ls` and who in `billing runs show|ls|cancel`, over the coordinator's test
client: an operator starts a run, another cancels it, and the CLI names both."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from cli.__main__ import main
from tests.helpers.cli import InProcessApi, billing_in_process
from tests.unit.harness import TOKEN, Harness, client


@pytest.fixture
def stack(guarded: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> InProcessApi:
    """`billing` as an admin (BILLING_TOKEN), over the guarded functions."""
    monkeypatch.setenv("BILLING_TOKEN", TOKEN)
    monkeypatch.setenv("STATE_DIR", str(tmp_path / "stack"))
    return billing_in_process(monkeypatch, client, guarded.publisher, tmp_path / "plans")


def token_for(name: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["tokens", "add", name, "--role", "operator"]) == 0
    return capsys.readouterr().out.strip()


def test_the_audit_and_the_run_name_who_started_and_who_cancelled_it(
    stack: InProcessApi, capsys: pytest.CaptureFixture[str]
) -> None:
    ann, bob = token_for("ann", capsys), token_for("bob", capsys)
    stack.settings = replace(stack.settings, auth_token=ann)
    assert main(["run", "1", "2"]) == 0
    run_id = next(w for w in capsys.readouterr().out.split() if w.startswith("run-")).rstrip(":")
    stack.settings = replace(stack.settings, auth_token=bob)
    assert main(["runs", "cancel", run_id]) == 0
    assert "by bob" in capsys.readouterr().out

    assert main(["audit", "ls", "--run", run_id]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert rows[0] == ["AT", "WHO", "ROLE", "OPERATION", "TARGET", "OUTCOME"]
    assert [row[1:4] for row in rows[1:]] == [
        ["bob", "operator", "cancelRun"],
        ["ann", "operator", "startRun"],
    ]
    assert main(["runs", "show", run_id]) == 0
    shown = capsys.readouterr().out.splitlines()[0]
    assert "by ann" in shown and "cancelled at" in shown and "by bob" in shown


def test_a_long_audit_says_how_to_read_on_with_its_filters(
    stack: InProcessApi, capsys: pytest.CaptureFixture[str]
) -> None:
    for customer in ("1", "2", "3"):
        assert main(["run", customer, "--new"]) == 0
    capsys.readouterr()
    assert main(["audit", "ls", "--who", "BILLING_TOKEN", "--limit", "2"]) == 0
    more = capsys.readouterr().out.splitlines()[-1]
    assert more.startswith("more: billing audit ls --who BILLING_TOKEN --after ")
    assert main(["audit", "ls", "--who", "BILLING_TOKEN", "--after", more.split()[-1]]) == 0
    assert "startRun" in capsys.readouterr().out


def test_a_bad_page_size_is_a_usage_error(stack: InProcessApi) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["audit", "ls", "--limit", "0"])
    assert exited.value.code == 2
