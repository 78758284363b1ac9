"""The trace backend of `make up TRACES=1`: Jaeger v2, built once from its Go module (the
module's tag v1.75.0 is Jaeger 2.x), keeping traces in memory. It takes OTLP over HTTP and
answers queries (``/api/traces``, which `billing trace` reads). A plain build has no web UI:
its pages need a JavaScript build of their own, so `billing trace` shows a trace instead.

Why Jaeger: it takes OTLP as the functions send it, keeps and indexes whole traces, and its
query API finds a workflow's trace by an attribute. Zipkin's server takes its own format
only; an OpenTelemetry Collector keeps nothing to query.
"""

from __future__ import annotations

import fcntl
import logging
import shutil
import subprocess
import sys
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
    # Jaeger v2 traces its own queries by default, to 127.0.0.1:4317: nobody listens
    # there, and at SIGTERM its exporter retries for longer than a clean stop may take.
    enable_tracing: false
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


def binary(settings: StackSettings, *, again: bool = False) -> Path:
    """Jaeger's binary, built on first use (a few minutes, once a machine). One build runs
    at a time: a caller that finds one under way (`make install-tests` starts one in the
    background) waits for it. A failed build is not tried again unless ``again`` (install
    does): the others fail at once with its error."""
    tools = Path(settings.kafka_cache_dir) / "tools"
    built = tools / f"jaeger-{VERSION}"
    if built.exists():
        return built
    tools.mkdir(parents=True, exist_ok=True)
    failed = tools / f"jaeger-{VERSION}.failed"
    with (tools / "jaeger-build.lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("waiting for the Jaeger build under way (%s)", build_log(settings))
            fcntl.flock(lock, fcntl.LOCK_EX)
        if built.exists():
            return built
        if failed.exists() and not again:
            raise ConfigurationError(
                f"{failed.read_text()[-2000:]}\n(the last build, logged in {build_log(settings)};"
                " `make install-tests` tries again)"
            )
        failed.unlink(missing_ok=True)
        try:
            _build(tools, built)
        except ConfigurationError as exc:
            failed.write_text(str(exc))
            raise
    return built


def _build(tools: Path, built: Path) -> None:
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
        # Written under another name and renamed: a build cut short leaves no binary.
        go_run("build", "-o", str(built) + ".partial", f"{MODULE}/cmd/jaeger")
    except subprocess.CalledProcessError as exc:
        raise ConfigurationError(f"building Jaeger {VERSION} failed: {exc.stderr[-2000:]}") from exc
    Path(str(built) + ".partial").rename(built)
    log.info("Jaeger built in %.0f s: %s", time.monotonic() - started, built)


def build_log(settings: StackSettings) -> Path:
    """Where the background build (``python -m infra.traces --background``) writes."""
    return Path(settings.kafka_cache_dir) / "tools" / f"jaeger-{VERSION}.log"


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


def main(argv: list[str]) -> int:
    """``python -m infra.traces``: build Jaeger now (again if it failed before), or wait for
    the build under way. ``--background``: start that build in the background unless the
    binary is there or a build is under way; the trace tests wait for it."""
    logging.basicConfig(level=logging.INFO, format="install: %(message)s")
    settings = StackSettings.from_env()
    built = Path(settings.kafka_cache_dir) / "tools" / f"jaeger-{VERSION}"
    if "--background" in argv and not built.exists():
        lock_path = built.parent / "jaeger-build.lock"
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with lock_path.open("w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                log.info("Jaeger: a build is under way (%s)", build_log(settings))
                return 0
        with build_log(settings).open("a") as out:
            subprocess.Popen(
                # Niced, so that it takes only the CPU the tests leave; go's compilers too.
                ["nice", "-n", "19", sys.executable, "-m", "infra.traces"],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # outlives make
            )
        log.info("Jaeger %s builds in the background (%s)", VERSION, build_log(settings))
        return 0
    try:
        log.info("Jaeger %s", binary(settings, again=True))
    except ConfigurationError as exc:
        log.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
