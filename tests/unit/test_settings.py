"""The settings: read from the environment in one place, checked in one place."""

from __future__ import annotations

import dataclasses
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from functions.errors import ConfigurationError
from runtime import settings_doc
from runtime.config import (
    AUDIENCES,
    REPO,
    ClientSettings,
    FunctionSettings,
    KafkaSettings,
    S3Settings,
    StackSettings,
)


def test_settings_come_from_the_environment() -> None:
    settings = StackSettings.from_env(
        {
            "KAFKA_BOOTSTRAP_SERVERS": "broker:29092",
            "S3_ENDPOINT_URL": "",
            "TOPIC_PARTITIONS": "8",
            "LOG_LEVEL": "debug",
        }
    )
    assert settings.kafka_bootstrap_servers == "broker:29092"
    assert settings.s3_endpoint_url is None
    assert settings.topic_partitions == 8
    assert settings.log_level == "DEBUG"
    assert StackSettings.from_env({}) == StackSettings()


def test_settings_survive_a_trip_through_the_environment() -> None:
    settings = StackSettings(bills_bucket="b", publish_timeout_s=2.5, s3_endpoint_url=None)
    assert StackSettings.from_env(settings.to_env()) == settings


@pytest.mark.parametrize(
    ("env", "complaint"),
    [
        ({"TOPIC_PARTITIONS": "four"}, "TOPIC_PARTITIONS='four' is not a int"),
        ({"PUBLISH_TIMEOUT_S": "0"}, "greater than zero"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL='LOUD'"),
        ({"PROCESSING_GUARANTEE": "at-most-once"}, "use one of .'at-least-once', 'exactly-once'"),
        ({"ANSWER_ATTEMPTS": "-1"}, "ANSWER_ATTEMPTS=-1 must be greater than zero"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT='xml'; use one of"),
        ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "needs KAFKA_SASL_USERNAME"),
        ({"S3_LATENCY_MS": "-5"}, "S3_LATENCY_MS=-5.0 must be zero or more"),
        ({"COORDINATOR_PORT": "x"}, "COORDINATOR_PORT='x' is not a int"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], complaint: str) -> None:
    with pytest.raises(ConfigurationError, match=complaint):
        StackSettings.from_env(env)


def test_at_least_once_is_the_default_and_exactly_once_an_option() -> None:
    assert StackSettings().processing_guarantee == "at-least-once"
    chosen = StackSettings.from_env({"PROCESSING_GUARANTEE": "exactly-once"})
    assert chosen.processing_guarantee == "exactly-once"


def test_each_source_topic_has_its_dead_letter_topic() -> None:
    settings = StackSettings()
    assert settings.dead_letter_topic("workflow-queue") == "workflow-queue.dlq"
    assert set(settings.all_topics) == {
        "workflow-queue",
        "questions-topic",
        "answers-topic",
        "workflow-queue.dlq",
        "questions-topic.dlq",
        "answers-topic.dlq",
    }


def test_only_the_settings_read_the_environment() -> None:
    reads = re.compile(r"os\.environ\.get\(|os\.getenv\(|os\.environ\[[^\]]+\](?!\s*=)")
    readers = [
        str(path.relative_to(REPO))
        for folder in ("functions", "runtime", "infra", "cli", "bench")
        for path in (REPO / folder).rglob("*.py")
        if not path.is_relative_to(REPO / "runtime" / "config") and reads.search(path.read_text())
    ]
    assert readers == []


def test_the_http_urls_follow_the_ports_unless_given() -> None:
    settings = StackSettings.from_env({"COORDINATOR_PORT": "4007"})
    assert settings.coordinator_address == "http://127.0.0.1:4007"
    assert settings.crm_address == "http://127.0.0.1:3008"
    given = StackSettings.from_env({"CRM_URL": "https://crm.example"})
    assert given.crm_address == "https://crm.example"


def test_the_console_follows_the_ports_unless_given() -> None:
    moved = FunctionSettings.from_env({"COORDINATOR_PORT": "4007", "CRM_PORT": "4008"})
    assert moved.console_crm_address == "http://127.0.0.1:4008"
    assert moved.console_allowed_origins == ("http://127.0.0.1:4007", "http://localhost:4007")
    given = FunctionSettings.from_env(
        {"CRM_PORT": "4008", "CONSOLE_CRM_URL": "https://crm.example", "CONSOLE_ORIGINS": "a b"}
    )
    assert given.console_crm_address == "https://crm.example"
    assert given.console_allowed_origins == ("a", "b")


def test_a_client_finds_the_token_the_stack_made(tmp_path: Path) -> None:
    (tmp_path / "billing-token").write_text("made-by-make-up\n")
    assert ClientSettings.from_env({"STATE_DIR": str(tmp_path)}).token == "made-by-make-up"
    given = {"STATE_DIR": str(tmp_path), "BILLING_TOKEN": "mine"}
    assert ClientSettings.from_env(given).token == "mine"
    assert ClientSettings.from_env({"STATE_DIR": str(tmp_path / "none")}).token is None
    # A function never takes the local stack's token on its own: it is given one, or none.
    assert FunctionSettings.from_env({"STATE_DIR": str(tmp_path)}).token is None


def test_unset_values_stay_out_of_another_process_environment() -> None:
    env = StackSettings(s3_endpoint_url=None).to_env()
    assert env["S3_ENDPOINT_URL"] == ""  # AWS S3, not the local default
    assert "AWS_ACCESS_KEY_ID" not in env  # the other process's own AWS chain applies
    assert "BILLING_SUPERVISOR_PID" not in env


def test_secrets_stay_out_of_the_repr_and_dummy_keys_are_no_secret() -> None:
    settings = StackSettings(
        auth_token="t0ken-value",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        aws_session_token="session-token-value",
    )
    assert "t0ken-value" not in repr(settings)
    assert sorted(settings.secrets()) == ["session-token-value", "t0ken-value"]


def test_the_configuration_page_lists_every_setting_as_declared() -> None:
    page = settings_doc.PAGE.read_text()
    assert settings_doc.page_with_table(page) == page, (
        "docs/configuration.md is out of date: run `python -m runtime.settings_doc`"
    )
    for spec in dataclasses.fields(StackSettings):
        assert f"| `{spec.metadata['env']}` |" in page


def test_each_audience_has_its_own_settings_and_shares_the_kafka_and_s3_parts() -> None:
    def variables(audience: type) -> set[str]:
        return {spec.metadata["env"] for spec in dataclasses.fields(audience)}

    kafka, s3 = variables(KafkaSettings), variables(S3Settings)
    assert kafka | s3 <= variables(FunctionSettings)
    assert s3 <= variables(ClientSettings)
    assert not kafka & variables(ClientSettings), "the CLI needs no Kafka"
    assert not {"BROKERS", "KAFKA_HEAP", "S3_LATENCY_MS"} & variables(FunctionSettings)
    assert variables(FunctionSettings) | variables(ClientSettings) <= variables(StackSettings)
    declared = [
        spec.metadata["env"]
        for audience in AUDIENCES
        for spec in dataclasses.fields(audience)
        if spec.name in inspect.get_annotations(audience)
    ]
    assert sorted(declared) == sorted(set(declared)), "a variable declared twice"


def test_building_settings_reads_no_file(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-token")
    settings = FunctionSettings(auth_token_file=missing)  # built: nothing was read
    with pytest.raises(ConfigurationError, match="cannot be read"):
        _ = settings.token
    kept = tmp_path / "token"
    kept.write_text("from-the-file\n")
    assert FunctionSettings(auth_token_file=str(kept)).secrets() == ["from-the-file"]


def test_importing_the_http_targets_reads_no_environment() -> None:
    bad = {**os.environ, "LOG_FORMAT": "xml"}
    imported = subprocess.run(
        [sys.executable, "-c", "import runtime.http"], env=bad, capture_output=True, text=True
    )
    assert imported.returncode == 0, imported.stderr
    started = subprocess.run(
        [sys.executable, "-c", "import main"], env=bad, capture_output=True, text=True, cwd=REPO
    )
    assert started.returncode != 0, "the entry point must refuse a bad setting before serving"
    assert "LOG_FORMAT='xml'" in started.stderr
