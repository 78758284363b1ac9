"""The local stack's settings (`make up`, ``infra/``, the benchmark): it runs the functions
and serves the clients, so it holds both their settings and its own."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from runtime.config.client import ClientSettings
from runtime.config.declared import setting
from runtime.config.function import FunctionSettings


@dataclass(frozen=True)
class StackSettings(FunctionSettings, ClientSettings):
    """The local stack (`make up`, ``infra/``): it runs the functions and serves the
    clients, so it holds both their settings and its own."""

    topic_partitions: int = setting(
        4, "TOPIC_PARTITIONS", doc="partitions of each topic `python -m infra.provision` creates"
    )
    topic_replication: int = setting(
        2, "TOPIC_REPLICATION", doc="copies of each topic, at most the number of brokers"
    )
    brokers: int = setting(
        1, "BROKERS", doc="`make up`: 1 broker, or 3 for a cluster any one node of which may die"
    )
    kafka_heap: str = setting(
        "-Xms256m -Xmx1g", "KAFKA_HEAP", doc="`make up`: the brokers' JVM heap"
    )
    kafka_cache_dir: str = setting(
        str(Path.home() / ".cache" / "kafka-billing"),
        "KAFKA_CACHE_DIR",
        doc="`make install`: where Maven puts the broker's and the S3 server's jars",
        shown="~/.cache/kafka-billing",
    )
    s3_server_heap: str = setting(
        "-Xms64m -Xmx512m", "S3_SERVER_HEAP", doc="`make up`: the S3 server's JVM heap"
    )
    traces: int = setting(
        0,
        "TRACES",
        zero_allowed=True,
        doc="`make up TRACES=1`: start a trace backend (Jaeger) and send every process's"
        " spans to it",
    )
    traces_otlp_port: int = setting(
        4318, "TRACES_OTLP_PORT", doc="`make up TRACES=1`: where Jaeger takes OTLP over HTTP"
    )
    s3_latency_ms: float = setting(
        0.0,
        "S3_LATENCY_MS",
        zero_allowed=True,
        doc="`make up`, `make bench`: above 0, the functions reach S3 through a proxy that"
        " holds each request this long, as a cloud store would",
    )
    s3_latency_port: int = setting(4567, "S3_LATENCY_PORT", doc="the latency proxy's port")
