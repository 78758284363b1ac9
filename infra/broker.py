"""A real Apache Kafka broker in KRaft mode, from jars that Maven resolves.

The jars are cached outside git (``~/.cache/kafka-billing`` unless KAFKA_CACHE_DIR
says otherwise); the broker's data lives under the stack's state folder.
"""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from functions.errors import ConfigurationError
from runtime.config import StackSettings

INFRA = Path(__file__).resolve().parent
POM = INFRA / "kafka" / "pom.xml"
LOG4J = INFRA / "kafka" / "log4j2.properties"


def kafka_version() -> str:
    match = re.search(r"<kafka.version>([^<]+)</kafka.version>", POM.read_text())
    assert match, f"no <kafka.version> in {POM}"
    return match.group(1)


def cache_dir(settings: StackSettings, profile: str | None = None) -> Path:
    suffix = f"-{profile}" if profile else ""
    return Path(settings.kafka_cache_dir) / f"kafka-{kafka_version()}{suffix}"


def resolve_jars(settings: StackSettings, profile: str | None = None) -> Path:
    """The folder of the broker's jars, downloaded by ``mvn`` on first use; with a
    ``profile`` of infra/kafka/pom.xml (``image``: and Kafka's tools), in a folder of its own."""
    libs = cache_dir(settings, profile) / "libs"
    complete = cache_dir(settings, profile) / ".complete"
    if complete.exists():
        return libs
    if shutil.which("mvn") is None or shutil.which("java") is None:
        raise ConfigurationError("the local Kafka broker needs `java` (17+) and `mvn` on PATH")
    if libs.exists():
        shutil.rmtree(libs)
    subprocess.run(
        [
            "mvn",
            "-B",
            "-q",
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={libs}",
            "-DincludeScope=runtime",
            *([f"-P{profile}"] if profile else []),
        ],
        check=True,
    )
    complete.write_text(kafka_version())
    return libs


def new_cluster_id() -> str:
    """A KRaft cluster id that, like Kafka's own, never starts with "-".

    The storage tool would read such an id as an option and refuse to format.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


@dataclass(frozen=True)
class Node:
    """One broker of a local cluster; each node is broker and controller at once."""

    node_id: int
    port: int
    controller_port: int

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


def cluster_nodes(first_port: int, count: int) -> list[Node]:
    """``count`` nodes on ports counting up from ``first_port``, two per node."""
    return [Node(n + 1, first_port + 2 * n, first_port + 2 * n + 1) for n in range(count)]


def bootstrap_servers(nodes: list[Node]) -> str:
    return ",".join(node.address for node in nodes)


def server_properties(data_dir: Path, node: Node, nodes: list[Node]) -> str:
    voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in nodes)
    # Internal topics get a copy on up to three nodes; one node may be down at any time.
    internal_replication = min(3, len(nodes))
    return "\n".join(
        [
            "process.roles=broker,controller",
            f"node.id={node.node_id}",
            f"controller.quorum.voters={voters}",
            f"listeners=PLAINTEXT://{node.address},CONTROLLER://127.0.0.1:{node.controller_port}",
            f"advertised.listeners=PLAINTEXT://{node.address}",
            "controller.listener.names=CONTROLLER",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name=PLAINTEXT",
            f"log.dirs={data_dir / 'data'}",
            # Topics are provisioned on purpose (infra/provision.py), never by a typo.
            "auto.create.topics.enable=false",
            "num.partitions=4",
            f"offsets.topic.replication.factor={internal_replication}",
            f"transaction.state.log.replication.factor={internal_replication}",
            "transaction.state.log.min.isr=1",
            f"share.coordinator.state.topic.replication.factor={internal_replication}",
            "group.initial.rebalance.delay.ms=0",
            "",
        ]
    )


def _cluster_id(cluster_dir: Path) -> str:
    """One id for every node of a cluster, made by whichever node is prepared first."""
    path = cluster_dir / "cluster-id"
    if not path.exists():
        cluster_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(new_cluster_id())
    return path.read_text().strip()


def prepare(cluster_dir: Path, node: Node, nodes: list[Node], settings: StackSettings) -> list[str]:
    """Write a node's config, format its storage once, and return its command line."""
    libs = resolve_jars(settings)
    classpath = f"{libs}/*"
    data_dir = cluster_dir / f"node-{node.node_id}"
    data_dir.mkdir(parents=True, exist_ok=True)
    properties = data_dir / "server.properties"
    properties.write_text(server_properties(data_dir, node, nodes))
    if not (data_dir / "data" / "meta.properties").exists():
        subprocess.run(
            [
                "java",
                *("-cp", classpath, "kafka.tools.StorageTool", "format"),
                *("-t", _cluster_id(cluster_dir), "-c", str(properties)),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    heap = settings.kafka_heap.split()
    return [
        "java",
        *heap,
        "-XX:+UseG1GC",
        f"-Dlog4j2.configurationFile={LOG4J}",
        "-cp",
        classpath,
        "kafka.Kafka",
        str(properties),
    ]
