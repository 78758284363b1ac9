from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from functions.errors import ConfigurationError
from infra.broker import kafka_version, new_cluster_id
from runtime.config import Settings
from runtime.triggers import TRIGGERS
from tests.support import REPO


def test_settings_come_from_the_environment() -> None:
    settings = Settings.from_env(
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
    assert Settings.from_env({}) == Settings()


def test_settings_survive_a_trip_through_the_environment() -> None:
    settings = Settings(bills_bucket="b", publish_timeout_s=2.5, s3_endpoint_url=None)
    assert Settings.from_env(settings.to_env()) == settings


@pytest.mark.parametrize(
    ("env", "complaint"),
    [
        ({"TOPIC_PARTITIONS": "four"}, "TOPIC_PARTITIONS='four' is not a int"),
        ({"PUBLISH_TIMEOUT_S": "0"}, "greater than zero"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL='LOUD'"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], complaint: str) -> None:
    with pytest.raises(ConfigurationError, match=complaint):
        Settings.from_env(env)


def test_every_function_has_its_own_consumer_group() -> None:
    groups = [trigger.consumer_group for trigger in TRIGGERS]
    assert len(set(groups)) == len(groups) == 3


def _compose() -> list[str]:
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    tools = Path(os.environ.get("KAFKA_CACHE_DIR") or Path.home() / ".cache" / "kafka-billing")
    plugin = tools / "tools" / "cli-plugins" / "docker-compose"
    assert plugin.exists() or shutil.which("docker-compose"), (
        "no `docker compose` here; `make install` builds the plugin (it needs Go)"
    )
    return [str(plugin)] if plugin.exists() else ["docker-compose"]


def test_docker_compose_file_is_valid_and_runs_the_same_kafka() -> None:
    result = subprocess.run(
        [*_compose(), "-f", str(REPO / "docker-compose.yml"), "config", "--format", "json"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    import json

    services = json.loads(result.stdout)["services"]
    assert services["kafka"]["image"] == f"apache/kafka:{kafka_version()}"
    assert services["localstack"]["image"].startswith("localstack/localstack:4.")
    assert {"coordinator", "crm", "runtime", "provision"} <= set(services)


def test_cluster_ids_never_look_like_options_to_the_storage_tool() -> None:
    ids = {new_cluster_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(len(cluster_id) == 22 and not cluster_id.startswith("-") for cluster_id in ids)
