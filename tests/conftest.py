"""Fixtures for the tiers that need real services.

The ``infra`` fixture uses the Kafka broker and S3 server that are running (``make up``)
or starts them, and stops what it started. If they cannot start, the tests fail. The
fixtures import what they use, so that the unit tier never loads Kafka's client or
``infra`` (``tests/helpers/unit_tier.py``).
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from runtime.config import StackSettings

if TYPE_CHECKING:
    from tests.helpers.faults import Cluster
    from tests.helpers.kafka import TopicReader
    from tests.helpers.processes import Processes

# The local S3 servers take any credentials; the aws CLI and boto3 want some.
for _name, _value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}.items():
    os.environ.setdefault(_name, _value)
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackSettings]:
    """The broker and the S3 server, shared by every test of the run and by the workers of
    ``pytest -n``: the first to need them starts what is not running, the last one done
    stops what was started."""
    from infra import components
    from infra.processes import Background

    base = StackSettings.from_env()
    background = Background(Path(base.state_dir))
    run = tmp_path_factory.getbasetemp()
    # The workers of one `pytest -n` run share their base's parent; a run alone, its base.
    users = (run.parent if os.environ.get("PYTEST_XDIST_WORKER") else run) / "infra-users.json"
    with _locked(users) as state:
        missing = [c for c in components.infra(base) if not c.ready(base)]
        try:
            background.start_together(missing, base)
            if missing:
                # A broker that has just started takes groups a moment after it serves
                # metadata: the first tests would meet NOT_COORDINATOR.
                from tests.helpers.kafka import coordinator_answers
                from tests.helpers.waiting import wait_for

                wait_for("Kafka's group coordinator", lambda: coordinator_answers(base, "probe"))
        except BaseException:
            background.stop(*[component.name for component in missing])  # none left behind
            raise
        state["started"] += [component.name for component in missing]
        state["users"] += 1
    yield base
    with _locked(users) as state:
        state["users"] -= 1
        if state["users"] == 0:
            background.stop(*state["started"])
            state["started"] = []


@contextmanager
def _locked(path: Path) -> Iterator[dict[str, Any]]:
    """The JSON state at ``path``, read and written back under an exclusive lock."""
    with path.with_suffix(".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        state = json.loads(path.read_text()) if path.exists() else {"started": [], "users": 0}
        yield state
        path.write_text(json.dumps(state))


@pytest.fixture
def settings(infra: StackSettings) -> StackSettings:
    """Topics, buckets and consumer groups of this test's own, on the real services."""
    from tests.helpers.stores import isolated

    return isolated(infra)


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    from tests.helpers.processes import Processes

    started = Processes(tmp_path)
    yield started
    started.stop_all()


@pytest.fixture
def reader() -> Iterator[Callable[[StackSettings, str], TopicReader]]:
    """Opens topic readers that are closed after the test."""
    from tests.helpers.kafka import TopicReader

    readers: list[TopicReader] = []

    def open_reader(settings: StackSettings, topic: str) -> TopicReader:
        readers.append(TopicReader(settings, topic))
        return readers[-1]

    yield open_reader
    for topic_reader in readers:
        topic_reader.close()


@pytest.fixture
def own_cluster(
    settings: StackSettings, processes: Processes, tmp_path: Path
) -> Iterator[Callable[[int], tuple[Cluster, StackSettings]]]:
    """A Kafka cluster of the test's own; its settings have topics provisioned on it."""
    from infra.provision import provision
    from tests.helpers.faults import Cluster

    def start(size: int) -> tuple[Cluster, StackSettings]:
        cluster = Cluster(processes, tmp_path / "cluster", size)
        on_cluster = replace(settings, kafka_bootstrap_servers=cluster.bootstrap)
        provision(on_cluster)
        return cluster, on_cluster

    yield start
