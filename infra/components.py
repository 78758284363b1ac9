"""What the local stack is made of: each process, how it is started and how it is known
to be ready. ``infra/processes.py`` starts, watches and stops them; ``infra/stack.py``
brings them up and down in order."""

from __future__ import annotations

import dataclasses
import socket
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from confluent_kafka.admin import AdminClient

from functions.errors import ConfigurationError
from infra import broker, s3server, traces
from runtime.config import StackSettings
from runtime.triggers import TRIGGERS

BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Component:
    name: str
    command: Callable[[StackSettings], list[str]]
    ready: Callable[[StackSettings], bool]
    port: Callable[[StackSettings], tuple[str, int]] | None = None
    timeout_s: float = 90.0


def host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host or "127.0.0.1", int(port)


def port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def http_answers(url: str, token: str | None = None) -> bool:
    """Whether anything answers at ``url``, even with an error."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def _admin(settings: StackSettings) -> AdminClient:
    # log_level 0 keeps librdkafka quiet about refused connections while a broker starts.
    return AdminClient({**settings.kafka_connection(), "log_level": 0})


def kafka_ready(settings: StackSettings, brokers: int = 1) -> bool:
    """Whether the cluster answers, with at least ``brokers`` of its nodes."""
    try:
        return len(_admin(settings).list_topics(timeout=2).brokers) >= brokers
    except Exception:
        return False


def groups_ready(settings: StackSettings) -> bool:
    """Whether every Kafka-triggered function has joined its consumer group."""
    groups = [settings.consumer_group_prefix + t.consumer_group for t in TRIGGERS]
    # The client must outlive its futures: one collected early leaves them unresolved.
    admin = _admin(settings)
    try:
        futures = admin.describe_consumer_groups(groups, request_timeout=5)
        return all(len(f.result(timeout=10).members) > 0 for f in futures.values())
    except Exception:
        return False


def s3_address(settings: StackSettings) -> tuple[str, int]:
    if settings.s3_endpoint_url is None:
        raise ConfigurationError(
            "S3_ENDPOINT_URL is empty (real AWS); the stack starts local S3 only"
        )
    parts = urlsplit(settings.s3_endpoint_url)
    return parts.hostname or "127.0.0.1", parts.port or 80


def kafka_nodes(settings: StackSettings) -> list[broker.Node]:
    first = settings.kafka_bootstrap_servers.split(",")[0]
    return broker.cluster_nodes(host_port(first)[1], settings.brokers)


def _kafka_node(index: int) -> Component:
    def command(settings: StackSettings) -> list[str]:
        nodes = kafka_nodes(settings)
        cluster_dir = Path(settings.state_dir) / "kafka" / f"{len(nodes)}-node"
        return broker.prepare(cluster_dir, nodes[index], nodes, settings)

    def ready(settings: StackSettings) -> bool:
        address = kafka_nodes(settings)[index].address
        return kafka_ready(dataclasses.replace(settings, kafka_bootstrap_servers=address))

    return Component(
        f"kafka-{index + 1}",
        command,
        ready,
        lambda s: host_port(kafka_nodes(s)[index].address),
        timeout_s=120,
    )


def _http_function(target: str, port: Callable[[StackSettings], int], probe_path: str) -> Component:
    """A functions-framework target, started the way docs/architecture.md tells a user to."""
    return Component(
        target,
        lambda s: [
            str(BIN / "functions-framework"),
            *("--target", target, "--host", "127.0.0.1", "--port", str(port(s))),
        ],
        lambda s: http_answers(f"http://127.0.0.1:{port(s)}{probe_path}", s.token),
        lambda s: ("127.0.0.1", port(s)),
    )


def infra(settings: StackSettings) -> tuple[Component, ...]:
    """What the functions need; topics and buckets are provisioned once all are ready."""
    s3 = Component(
        "s3",
        lambda s: s3server.prepare(Path(s.state_dir), *s3_address(s), s),
        lambda s: http_answers(s.s3_endpoint_url or ""),
        s3_address,
    )
    nodes = tuple(_kafka_node(index) for index in range(settings.brokers))
    return (*nodes, s3, TRACES) if settings.traces else (*nodes, s3)


# `make up TRACES=1`: where every function sends its spans (infra/traces.py).
TRACES = Component(
    "traces",
    lambda s: traces.prepare(Path(s.state_dir), s),
    lambda s: http_answers(f"{s.traces_address}/api/services"),
    lambda s: ("127.0.0.1", s.traces_query_port),
    timeout_s=60,
)


# Between the functions and S3 when S3_LATENCY_MS asks for a cloud's latency.
S3_LATENCY = Component(
    "s3-latency",
    lambda s: [
        *(sys.executable, "-m", "infra.s3_latency"),
        *("--listen", f"127.0.0.1:{s.s3_latency_port}"),
        *("--target", ":".join(map(str, s3_address(s)))),
        *("--latency-ms", f"{s.s3_latency_ms:g}"),
    ],
    lambda s: port_open("127.0.0.1", s.s3_latency_port),
    lambda s: ("127.0.0.1", s.s3_latency_port),
)

FUNCTIONS = (
    S3_LATENCY,
    _http_function("coordinator", lambda s: s.coordinator_port, "/"),
    # Asking for a customer makes the CRM seed its store before `up` reports it ready.
    _http_function("crm", lambda s: s.crm_port, "/?customerId=1"),
    Component("runtime", lambda s: [sys.executable, "-m", "runtime", "all"], groups_ready),
)


def components(settings: StackSettings) -> tuple[Component, ...]:
    return infra(settings) + FUNCTIONS
