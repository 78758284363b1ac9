"""`billing tokens add|ls|revoke` over the coordinator's test client: a token printed once on
stdout, what to do with it on stderr; the list without a token; a revoked token refused; a
bad name or role a usage error before anything is sent; a refusal one line."""

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


def as_token(api: InProcessApi, token: str) -> None:
    """The CLI sends ``token`` from here on."""
    api.settings = replace(api.settings, auth_token=token)


def test_a_token_is_printed_once_listed_without_it_and_revoked(
    stack: InProcessApi, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tokens", "add", "ci-deploy", "--role", "operator"]) == 0
    printed = capsys.readouterr()
    [token] = printed.out.splitlines()
    assert token.startswith("bt_") and len(token) == 46
    assert "shown this once and cannot be shown again" in printed.err
    assert token not in printed.err

    assert main(["tokens", "ls"]) == 0
    listed = capsys.readouterr().out
    assert token not in listed
    assert [line.split()[:3] for line in listed.splitlines()] == [
        ["NAME", "ROLE", "STATE"],
        ["ci-deploy", "operator", "active"],
    ]
    assert "BILLING_TOKEN" in listed  # who made it

    as_token(stack, token)  # the operator's, from here on
    assert main(["runs", "ls"]) == 0
    assert main(["tokens", "ls"]) == 2
    refused = capsys.readouterr().err
    assert "answered 403" in refused and "role admin" in refused and refused.count("\n") == 1

    as_token(stack, TOKEN)
    assert main(["tokens", "revoke", "ci-deploy"]) == 0
    assert "revoked at" in capsys.readouterr().out
    assert main(["tokens", "ls"]) == 0
    assert capsys.readouterr().out.splitlines()[1].split()[:3] == [
        "ci-deploy",
        "operator",
        "revoked",
    ]

    as_token(stack, token)
    assert main(["runs", "ls"]) == 2
    error = capsys.readouterr().err
    assert "answered 401" in error and "revoked" in error and token not in error


def test_a_name_taken_or_unknown_is_one_line(
    stack: InProcessApi, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tokens", "add", "ci", "--role", "viewer"]) == 0
    assert main(["tokens", "add", "ci", "--role", "admin"]) == 2
    error = capsys.readouterr().err.splitlines()
    assert error[-1].startswith("billing: the coordinator answered 409: there is a token named")
    assert main(["tokens", "revoke", "nobody"]) == 2
    assert "answered 404: there is no token named 'nobody'" in capsys.readouterr().err


@pytest.mark.parametrize(
    "command",
    [
        ["tokens", "add", "CI", "--role", "viewer"],
        ["tokens", "add", "ci", "--role", "root"],
        ["tokens", "add", "ci"],
        ["tokens", "add", "a" * 65, "--role", "viewer"],
        ["tokens", "revoke", "../ci"],
    ],
)
def test_a_bad_name_or_role_is_a_usage_error_before_anything_is_sent(
    command: list[str], stack: InProcessApi, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(command)
    assert exited.value.code == 2
    assert "usage: billing tokens" in capsys.readouterr().err
    assert main(["tokens", "ls"]) == 0
    assert capsys.readouterr().out.startswith("no named tokens")


def test_without_a_store_the_cli_says_what_to_set(
    harness: Harness,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("STATE_DIR", str(tmp_path / "stack"))
    billing_in_process(monkeypatch, client, harness.publisher, tmp_path / "plans")
    assert main(["tokens", "add", "ci", "--role", "viewer"]) == 2
    assert "answered 501" in capsys.readouterr().err
