"""The compose tier: docker-compose.yml run for real, as `docker compose up --build -d`,
through podman's Docker API, with stand-ins of the public images built here
(infra/standin_images.py). It never skips: without podman, or with an image that does not
build, it fails and says why. `make compose-check` runs it (and `make test`, last)."""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.components import groups_ready, http_answers
from infra.podman import HealthChecks, PodmanService
from infra.standin_images import StandinImages, prune_other_tags
from runtime.config import ComposeSettings, StackSettings
from tests.helpers.compose import (
    APP_REPOSITORY,
    ComposeStack,
    app_image,
    client_settings,
    host_ports,
)
from tests.helpers.waiting import wait_for


@pytest.fixture(scope="session")
def compose_stack() -> Iterator[ComposeStack]:
    """The stack up under a project name of its own, on free host ports (or those the
    COMPOSE_*_PORT variables name), each function ready; taken down after the tier."""
    images = StandinImages(StackSettings.from_env()).variables()
    folder = Path(tempfile.mkdtemp(prefix="kafka-billing-podman-"))
    service = PodmanService(folder)
    service.start()
    token = secrets.token_hex(24)
    env = {
        **os.environ,
        **images,
        **host_ports(ComposeSettings.from_env()),
        "BILLING_IMAGE": app_image(),
        "BILLING_TOKEN": token,
        "COMPOSE_PROJECT_NAME": f"kafka-billing-check-{uuid.uuid4().hex[:8]}",
        "DOCKER_HOST": service.docker_host,
        # podman's Docker API builds with the classic builder; it has no BuildKit.
        "DOCKER_BUILDKIT": "0",
    }
    stack = ComposeStack(env["COMPOSE_PROJECT_NAME"], env, client_settings(env, token))
    try:
        _up(stack)
        yield stack
    finally:
        try:
            stack.compose("down", "--volumes")  # a second time, if the last test did
        finally:
            service.stop()
            shutil.rmtree(folder, ignore_errors=True)
            prune_other_tags(APP_REPOSITORY, env["BILLING_IMAGE"])


def _up(stack: ComposeStack) -> None:
    health_checks = HealthChecks(stack.project)
    health_checks.start()
    try:
        # Returns once Kafka and LocalStack are healthy, provisioning has run and the
        # functions' containers have started.
        stack.compose("up", "--build", "--detach", timeout_s=1800)
    except AssertionError as exc:
        logs = stack.compose("logs", "--no-color", "--tail", "30")
        raise AssertionError(f"{exc}\nthe containers' last lines:\n{logs}") from None
    finally:
        # Nothing after `up` reads the health, and Kafka's check starts a JVM each time.
        health_checks.stop()
    settings = stack.settings
    wait_for("the coordinator", lambda: http_answers(settings.coordinator_address), 120)
    wait_for("the CRM", lambda: http_answers(settings.crm_address), 120)
    wait_for("every function in its consumer group", lambda: groups_ready(settings), 120)
