"""A real Apache Kafka broker in KRaft mode, from jars that Maven resolves.

The jars are cached outside git (``~/.cache/kafka-billing`` unless KAFKA_CACHE_DIR
says otherwise); the broker's data lives under the stack's state folder.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path

from functions.errors import ConfigurationError

INFRA = Path(__file__).resolve().parent
POM = INFRA / "kafka" / "pom.xml"
LOG4J = INFRA / "kafka" / "log4j2.properties"


def kafka_version() -> str:
    match = re.search(r"<kafka.version>([^<]+)</kafka.version>", POM.read_text())
    assert match, f"no <kafka.version> in {POM}"
    return match.group(1)


def cache_dir() -> Path:
    base = os.environ.get("KAFKA_CACHE_DIR") or Path.home() / ".cache" / "kafka-billing"
    return Path(base) / f"kafka-{kafka_version()}"


def resolve_jars() -> Path:
    """The folder of the broker's jars, downloaded by ``mvn`` on first use."""
    libs = cache_dir() / "libs"
    complete = cache_dir() / ".complete"
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


def server_properties(data_dir: Path, port: int) -> str:
    return "\n".join(
        [
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@127.0.0.1:{port + 1}",
            f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{port + 1}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
            "controller.listener.names=CONTROLLER",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name=PLAINTEXT",
            f"log.dirs={data_dir / 'data'}",
            # Topics are provisioned on purpose (infra/provision.py), never by a typo.
            "auto.create.topics.enable=false",
            "num.partitions=4",
            "offsets.topic.replication.factor=1",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "group.initial.rebalance.delay.ms=0",
            "",
        ]
    )


def prepare(data_dir: Path, port: int) -> list[str]:
    """Write the config, format the storage once, and return the broker's command line."""
    libs = resolve_jars()
    classpath = f"{libs}/*"
    data_dir.mkdir(parents=True, exist_ok=True)
    properties = data_dir / "server.properties"
    properties.write_text(server_properties(data_dir, port))
    if not (data_dir / "data" / "meta.properties").exists():
        cluster_id = new_cluster_id()
        subprocess.run(
            [
                "java",
                "-cp",
                classpath,
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster_id,
                "-c",
                str(properties),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    heap = os.environ.get("KAFKA_HEAP", "-Xms256m -Xmx1g").split()
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
