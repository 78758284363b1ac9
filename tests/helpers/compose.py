"""docker-compose.yml as a user runs it: the `docker compose` command, and a stack of the
file's own on podman's Docker API with the stand-in images (tests/compose)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from runtime.config import REPO, ComposeSettings, StackSettings
from tests.helpers.ports import free_port, free_port_block

COMPOSE_FILE = REPO / "docker-compose.yml"
# What the Dockerfile copies into the image, and so what the app image's tag is a digest of.
BUILD_INPUTS = ("Dockerfile", "pyproject.toml", "README.md", "main.py")
BUILD_FOLDERS = ("functions", "runtime", "infra", "cli")
APP_REPOSITORY = "localhost/kafka-billing-check"


def compose_command() -> list[str]:
    """`docker compose`, or the plugin `make install-tests` builds where Docker has none."""
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    tools = Path(StackSettings.from_env().kafka_cache_dir)
    plugin = tools / "tools" / "cli-plugins" / "docker-compose"
    assert plugin.exists() or shutil.which("docker-compose"), (
        "no `docker compose` here; `make install-tests` (which `make test` runs) builds the"
        " plugin (it needs Go)"
    )
    return [str(plugin)] if plugin.exists() else ["docker-compose"]


def host_ports(settings: ComposeSettings) -> dict[str, str]:
    """The variables of the ports the stack publishes on: those set, else free ones."""
    first_metrics = free_port_block(4)
    return {
        "COMPOSE_KAFKA_PORT": str(settings.compose_kafka_port or free_port()),
        "COMPOSE_S3_PORT": str(settings.compose_s3_port or free_port()),
        "COMPOSE_COORDINATOR_PORT": str(settings.compose_coordinator_port or free_port()),
        "COMPOSE_CRM_PORT": str(settings.compose_crm_port or free_port()),
        "COMPOSE_METRICS_PORTS": settings.compose_metrics_ports
        or f"{first_metrics}-{first_metrics + 3}",
    }


def app_image() -> str:
    """A tag for the app image named by what it is built from, so that two checks of
    different code on one machine never run each other's image."""
    sha = hashlib.sha256()
    paths = [REPO / name for name in BUILD_INPUTS]
    for folder in BUILD_FOLDERS:
        paths += [
            p for p in (REPO / folder).rglob("*") if p.is_file() and "__pycache__" not in p.parts
        ]
    for path in sorted(paths):
        sha.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes())
    return f"{APP_REPOSITORY}:{sha.hexdigest()[:12]}"


@dataclass(frozen=True)
class ComposeStack:
    """docker-compose.yml under a project name of its own, and what a client needs to
    reach it (``settings``: the published ports, the token)."""

    project: str
    env: dict[str, str]
    settings: StackSettings

    def compose(self, *arguments: str, timeout_s: float = 900) -> str:
        result = subprocess.run(
            [*compose_command(), "--file", str(COMPOSE_FILE), *arguments],
            capture_output=True,
            text=True,
            cwd=REPO,
            env=self.env,
            timeout=timeout_s,
        )
        assert result.returncode == 0, (
            f"docker compose {' '.join(arguments)} failed ({result.returncode}):\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
        return result.stdout

    def container(self, service: str) -> str:
        return self.compose("ps", "--all", "--quiet", service).strip()

    def inspect(self, service: str) -> dict[str, Any]:
        inspected: list[dict[str, Any]] = json.loads(podman("inspect", self.container(service)))
        return inspected[0]

    def labelled(self, kind: str) -> list[str]:
        """The project's containers, networks or volumes that podman still has."""
        label = f"label=com.docker.compose.project={self.project}"
        listing = ["ps", "--all"] if kind == "container" else [kind, "ls"]
        return podman(*listing, "--quiet", "--filter", label).split()


def podman(*arguments: str) -> str:
    result = subprocess.run(["podman", *arguments], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"podman {' '.join(arguments)}: {result.stderr}"
    return result.stdout


def client_settings(env: dict[str, str], token: str) -> StackSettings:
    """The settings of a client on this machine of the stack published as ``env`` says:
    the buckets and topics of docker-compose.yml (the defaults)."""
    return replace(
        StackSettings(),
        kafka_bootstrap_servers=f"127.0.0.1:{env['COMPOSE_KAFKA_PORT']}",
        s3_endpoint_url=f"http://127.0.0.1:{env['COMPOSE_S3_PORT']}",
        coordinator_url=f"http://127.0.0.1:{env['COMPOSE_COORDINATOR_PORT']}",
        crm_url=f"http://127.0.0.1:{env['COMPOSE_CRM_PORT']}",
        auth_token=token,
    )
