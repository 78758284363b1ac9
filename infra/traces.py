"""The trace backend of `make up TRACES=1`: Jaeger v2, built once from its Go module (the
module's tag v1.75.0 is Jaeger 2.x), keeping traces in memory. It takes OTLP over HTTP and
answers queries (``/api/traces``, which `billing trace` reads). A plain build has no web UI:
its pages need a JavaScript build of their own, so `billing trace` shows a trace instead.

Why Jaeger: it takes OTLP as the functions send it, keeps and indexes whole traces, and its
query API finds a workflow's trace by an attribute. Zipkin's server takes its own format
only; an OpenTelemetry Collector keeps nothing to query.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
from pathlib import Path

from functions.errors import ConfigurationError
from runtime.config import StackSettings

log = logging.getLogger(__name__)

MODULE = "github.com/jaegertracing/jaeger"
VERSION = "v1.75.0"

CONFIG = """\
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    logs: {{level: warn}}
    metrics: {{level: none}}
    traces: {{level: none}}
extensions:
  jaeger_storage:
    backends:
      memstore:
        memory: {{max_traces: 100000}}
  jaeger_query:
    storage: {{traces: memstore}}
    http: {{endpoint: "127.0.0.1:{query}"}}
    grpc: {{endpoint: "127.0.0.1:{query_grpc}"}}
receivers:
  otlp:
    protocols:
      http: {{endpoint: "127.0.0.1:{otlp}"}}
processors:
  batch: {{timeout: 200ms}}
exporters:
  jaeger_storage_exporter: {{trace_storage: memstore}}
"""


def binary(settings: StackSettings) -> Path:
    """Jaeger's binary, built on first use (a few minutes, once a machine)."""
    tools = Path(settings.kafka_cache_dir) / "tools"
    built = tools / f"jaeger-{VERSION}"
    if built.exists():
        return built
    go = shutil.which("go")
    if go is None:
        raise ConfigurationError(
            "TRACES=1 needs Go to build Jaeger once (https://go.dev/dl, or `apt-get install"
            " golang`); without it, set OTEL_EXPORTER_OTLP_ENDPOINT to a trace backend of yours"
        )
    workspace = tools / "jaeger-build"
    workspace.mkdir(parents=True, exist_ok=True)
    log.info("building Jaeger %s from its Go module (a few minutes, once)", VERSION)
    started = time.monotonic()

    def go_run(*args: str) -> None:
        subprocess.run([go, *args], cwd=workspace, check=True, capture_output=True, text=True)

    try:
        if not (workspace / "go.mod").exists():
            go_run("mod", "init", "jaeger-build")
        go_run("get", "-tool", f"{MODULE}/cmd/jaeger@{VERSION}")
        go_run("build", "-o", str(built), f"{MODULE}/cmd/jaeger")
    except subprocess.CalledProcessError as exc:
        raise ConfigurationError(f"building Jaeger failed: {exc.stderr[-2000:]}") from exc
    log.info("Jaeger built in %.0f s: %s", time.monotonic() - started, built)
    return built


def prepare(state_dir: Path, settings: StackSettings) -> list[str]:
    """The command that starts Jaeger, its configuration written under ``state_dir``."""
    config = state_dir / "traces" / "jaeger.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    query = settings.traces_query_port
    config.write_text(
        CONFIG.format(query=query, query_grpc=query - 1, otlp=settings.traces_otlp_port)
    )
    return [str(binary(settings)), "--config", str(config)]


def otlp_endpoint(settings: StackSettings) -> str:
    return f"http://127.0.0.1:{settings.traces_otlp_port}"
