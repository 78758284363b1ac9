"""How the system is deployed: the runtime's wiring, the Kafka cluster's configuration,
docker-compose and the image."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import infra.stack
from functions.access import digest
from functions.storage.memory_bucket import MemoryBucket
from functions.storage.s3_tokens import S3TokenStore
from infra.broker import cluster_nodes, kafka_version, new_cluster_id, server_properties
from runtime.config import REPO, StackSettings
from runtime.triggers import TRIGGERS
from tests.helpers.compose import compose_command


def test_the_runtime_lists_its_kafka_and_timer_triggers() -> None:
    listing = subprocess.run(
        [sys.executable, "-m", "runtime", "list"], capture_output=True, text=True, check=True
    ).stdout
    assert "engine-start     on workflow-queue" in listing
    assert "retry-unanswered every 5s -> questions-topic" in listing


def test_a_cluster_of_three_replicates_internal_topics_and_knows_every_voter(
    tmp_path: Path,
) -> None:
    nodes = cluster_nodes(19092, 3)
    assert [n.port for n in nodes] == [19092, 19094, 19096]
    properties = server_properties(tmp_path, nodes[1], nodes)
    assert "node.id=2" in properties
    assert "controller.quorum.voters=1@127.0.0.1:19093,2@127.0.0.1:19095,3@127.0.0.1:19097" in (
        properties
    )
    assert "offsets.topic.replication.factor=3" in properties
    assert "offsets.topic.replication.factor=1" in server_properties(tmp_path, nodes[0], nodes[:1])


def test_every_function_has_its_own_consumer_group() -> None:
    groups = [trigger.consumer_group for trigger in TRIGGERS]
    assert len(set(groups)) == len(groups) == 3


def _compose_config(token: str | None, **variables: str) -> subprocess.CompletedProcess[str]:
    # What a user's shell might set that would change what is read here.
    chosen = {"BILLING_TOKEN", "BILLING_IMAGE", "KAFKA_IMAGE", "LOCALSTACK_IMAGE", "PYTHON_IMAGE"}
    env = {k: v for k, v in os.environ.items() if k not in chosen and not k.startswith("COMPOSE_")}
    if token is not None:
        env["BILLING_TOKEN"] = token
    return subprocess.run(
        [*compose_command(), "-f", str(REPO / "docker-compose.yml"), "config", "--format", "json"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**env, **variables},
    )


def test_docker_compose_file_is_valid_and_runs_the_same_kafka() -> None:
    result = _compose_config("compose-token")
    assert result.returncode == 0, result.stderr

    services = json.loads(result.stdout)["services"]
    assert services["kafka"]["image"] == f"apache/kafka:{kafka_version()}"
    assert services["localstack"]["image"].startswith("localstack/localstack:4.")
    assert {"coordinator", "crm", "runtime", "provision"} <= set(services)
    runtime = services["runtime"]["environment"]
    assert runtime["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:19092"
    assert runtime["METRICS_HOST"] == "0.0.0.0"
    for function in ("coordinator", "crm"):
        assert services[function]["environment"]["BILLING_TOKEN"] == "compose-token"


def test_docker_compose_will_not_start_the_http_functions_without_a_token() -> None:
    result = _compose_config(None)
    assert result.returncode != 0
    assert "set BILLING_TOKEN to a secret of your own" in result.stderr


def test_cluster_ids_never_look_like_options_to_the_storage_tool() -> None:
    ids = {new_cluster_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(len(cluster_id) == 22 and not cluster_id.startswith("-") for cluster_id in ids)


def test_the_image_holds_every_package_the_project_installs() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    packages = [
        p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    ]
    dockerfile = (REPO / "Dockerfile").read_text().splitlines()
    for package in packages:
        assert f"COPY {package} {package}" in dockerfile, f"the Dockerfile leaves out {package}/"


def test_the_containers_publish_on_loopback_only_and_restart() -> None:
    result = _compose_config("compose-token")
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    published = [
        (name, port) for name, service in services.items() for port in service.get("ports", [])
    ]
    assert {name for name, _ in published} == {
        "kafka",
        "localstack",
        "coordinator",
        "crm",
        "runtime",
    }
    for name, port in published:
        assert port["host_ip"] == "127.0.0.1", f"{name} publishes {port} beyond this machine"
    for name in ("kafka", "localstack", "coordinator", "crm", "runtime"):
        assert services[name]["restart"] == "unless-stopped", f"{name} is not restarted"


def test_the_image_runs_as_a_user_of_its_own_and_installs_dependencies_before_the_code() -> None:
    lines = [line.strip() for line in (REPO / "Dockerfile").read_text().splitlines()]
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0"), "the image runs as root"
    first_code = lines.index("COPY functions functions")
    installs = [n for n, line in enumerate(lines) if "pip install -r" in line]
    assert installs and installs[0] < first_code, "the dependencies are installed after the code"
    ignored = (REPO / ".dockerignore").read_text().split()
    for cache in (".mypy_cache", ".pytest_cache", ".hypothesis", "*.egg-info"):
        assert cache in ignored, f"{cache} reaches the build context"


def test_the_public_images_are_the_defaults_and_each_can_be_replaced() -> None:
    defaults = json.loads(_compose_config("compose-token").stdout)["services"]
    assert defaults["coordinator"]["image"] == "kafka-billing:local"
    assert "args" not in defaults["coordinator"]["build"], "the Dockerfile's base by default"
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in (REPO / "Dockerfile").read_text()
    ports = {(p["published"], p["target"]) for p in defaults["kafka"]["ports"]}
    assert ports == {("9092", 9092)}
    metrics = [port["published"] for port in defaults["runtime"]["ports"]]
    assert metrics == ["9400", "9401", "9402", "9403"]

    replaced = _compose_config(
        "compose-token",
        KAFKA_IMAGE="kafka-standin:1",
        LOCALSTACK_IMAGE="localstack-standin:1",
        PYTHON_IMAGE="python-standin:1",
        BILLING_IMAGE="billing-check:1",
        COMPOSE_KAFKA_PORT="29092",
        COMPOSE_CRM_PORT="23008",
    )
    assert replaced.returncode == 0, replaced.stderr
    services = json.loads(replaced.stdout)["services"]
    assert services["kafka"]["image"] == "kafka-standin:1"
    assert services["localstack"]["image"] == "localstack-standin:1"
    assert services["crm"]["build"]["args"] == {"PYTHON_IMAGE": "python-standin:1"}
    assert services["crm"]["image"] == "billing-check:1"
    kafka = services["kafka"]
    assert {(p["published"], p["target"]) for p in kafka["ports"]} == {("29092", 29092)}
    assert "PLAINTEXT://localhost:29092" in kafka["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    assert "localhost:29092" in " ".join(kafka["healthcheck"]["test"])
    assert services["crm"]["ports"][0]["published"] == "23008"
    assert services["coordinator"]["environment"]["CONSOLE_CRM_URL"] == "http://127.0.0.1:23008"


def test_a_new_local_admin_token_goes_to_a_file_only_its_owner_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make up` writes a new admin token over a file it did not make (mode 644, written by
    hand): the file is then its owner's alone (600), as when `make up` makes it."""
    bucket = MemoryBucket("billing-tokens")
    monkeypatch.setattr(infra.stack, "s3_client", lambda _settings: None)
    monkeypatch.setattr(infra.stack, "Bucket", lambda _client, _name: bucket)
    settings = StackSettings(state_dir=str(tmp_path), tokens_bucket="billing-tokens")
    settings.token_file.write_text("not a token anyone made\n")
    settings.token_file.chmod(0o644)
    infra.stack._keep_local_admin(settings)
    kept = S3TokenStore(bucket).get("local-admin")
    assert kept is not None and kept.digest == digest(settings.token_file.read_text().strip())
    assert stat.S_IMODE(settings.token_file.stat().st_mode) == 0o600
