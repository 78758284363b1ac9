"""Bring the whole local system up or down, each process in the background.

    python -m infra.stack up       # broker, S3, provisioning, coordinator, CRM, runtime
    python -m infra.stack up --only kafka-1,s3
    BROKERS=3 python -m infra.stack up   # a three-node Kafka cluster instead of one broker
    python -m infra.stack down     # stop everything `up` started
    python -m infra.stack status

Every process logs to ``.state/logs/<name>.log`` and has its pid in ``.state/pids``.
``up`` returns once every process is ready and is safe to run again.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from confluent_kafka.admin import AdminClient

from functions.errors import BillingError, ConfigurationError
from infra import broker, processes, s3server
from infra.provision import provision
from runtime.config import Settings
from runtime.logs import configure_logging
from runtime.triggers import TRIGGERS

log = logging.getLogger("infra.stack")

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
COORDINATOR_PORT = int(os.environ.get("COORDINATOR_PORT", "3007"))
CRM_PORT = int(os.environ.get("CRM_PORT", "3008"))
BROKERS = int(os.environ.get("BROKERS", "1"))
# `make up S3_LATENCY_MS=25`: the functions reach S3 through a proxy that holds each request.
S3_LATENCY_MS = float(os.environ.get("S3_LATENCY_MS") or "0")
S3_LATENCY_PORT = int(os.environ.get("S3_LATENCY_PORT", "4567"))


def state_dir() -> Path:
    return Path(os.environ.get("STATE_DIR") or REPO / ".state")


def token_file() -> Path:
    """The bearer token `up` made for the HTTP functions, unless BILLING_TOKEN was given."""
    return state_dir() / "billing-token"


def _ensure_token() -> None:
    """Auth is on in the local stack too: a random token, kept where local clients look."""
    if os.environ.get("BILLING_TOKEN") or os.environ.get("BILLING_TOKEN_FILE"):
        return
    path = token_file()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(32) + "\n")
    os.environ["BILLING_TOKEN_FILE"] = str(path)


def client_settings(env: dict[str, str] | None = None) -> Settings:
    """A client's settings (the CLI's, the benchmark's): with the token `up` made and the
    ports it used, where the environment names none."""
    env = dict(os.environ if env is None else env)
    given = env.get("BILLING_TOKEN") or env.get("BILLING_TOKEN_FILE")
    if not given and token_file().exists():
        env["BILLING_TOKEN_FILE"] = str(token_file())
    # The HTTP functions are where `up` starts them (COORDINATOR_PORT, CRM_PORT).
    env.setdefault("COORDINATOR_URL", f"http://127.0.0.1:{COORDINATOR_PORT}")
    env.setdefault("CRM_URL", f"http://127.0.0.1:{CRM_PORT}")
    return Settings.from_env(env)


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host or "127.0.0.1", int(port)


def _port_open(host: str, port: int) -> bool:
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


def _admin(settings: Settings) -> AdminClient:
    # log_level 0 keeps librdkafka quiet about refused connections while a broker starts.
    return AdminClient({**settings.kafka_connection(), "log_level": 0})


def _kafka_ready(settings: Settings) -> bool:
    try:
        _admin(settings).list_topics(timeout=2)
        return True
    except Exception:
        return False


def _groups_ready(settings: Settings) -> bool:
    groups = [settings.consumer_group_prefix + t.consumer_group for t in TRIGGERS]
    admin = _admin(settings)
    try:
        futures = admin.describe_consumer_groups(groups, request_timeout=5)
        return all(len(f.result().members) > 0 for f in futures.values())
    except Exception:
        return False


@dataclass(frozen=True)
class Component:
    name: str
    command: Callable[[Settings], list[str]]
    ready: Callable[[Settings], bool]
    port: Callable[[Settings], tuple[str, int]] | None = None
    timeout_s: float = 90.0


def _s3_address(settings: Settings) -> tuple[str, int]:
    if settings.s3_endpoint_url is None:
        raise ConfigurationError(
            "S3_ENDPOINT_URL is empty (real AWS); the stack starts local S3 only"
        )
    parts = urlsplit(settings.s3_endpoint_url)
    return parts.hostname or "127.0.0.1", parts.port or 80


def _http_function(target: str, port: int, probe_path: str) -> Component:
    """A functions-framework target, started the way the README tells a user to."""
    return Component(
        target,
        lambda s: [
            str(BIN / "functions-framework"),
            *("--target", target, "--host", "127.0.0.1", "--port", str(port)),
        ],
        lambda s: http_answers(f"http://127.0.0.1:{port}{probe_path}", s.auth_token),
        lambda s: ("127.0.0.1", port),
    )


def _nodes(settings: Settings) -> list[broker.Node]:
    first = settings.kafka_bootstrap_servers.split(",")[0]
    return broker.cluster_nodes(_host_port(first)[1], BROKERS)


def _kafka_node(index: int) -> Component:
    def command(settings: Settings) -> list[str]:
        nodes = _nodes(settings)
        cluster_dir = state_dir() / "kafka" / f"{len(nodes)}-node"
        return broker.prepare(cluster_dir, nodes[index], nodes)

    def ready(settings: Settings) -> bool:
        address = _nodes(settings)[index].address
        return _kafka_ready(dataclasses.replace(settings, kafka_bootstrap_servers=address))

    return Component(
        f"kafka-{index + 1}",
        command,
        ready,
        lambda s: _host_port(_nodes(s)[index].address),
        timeout_s=120,
    )


# What the functions need; topics and buckets are provisioned once both are ready.
INFRA = (
    *(_kafka_node(index) for index in range(BROKERS)),
    Component(
        "s3",
        lambda s: s3server.prepare(state_dir(), *_s3_address(s)),
        lambda s: http_answers(s.s3_endpoint_url or ""),
        _s3_address,
    ),
)
S3_LATENCY = Component(
    "s3-latency",
    lambda s: [
        *(sys.executable, "-m", "infra.s3_latency"),
        *(
            "--listen",
            f"127.0.0.1:{S3_LATENCY_PORT}",
            "--target",
            ":".join(map(str, _s3_address(s))),
        ),
        *("--latency-ms", f"{S3_LATENCY_MS:g}"),
    ],
    lambda s: _port_open("127.0.0.1", S3_LATENCY_PORT),
    lambda s: ("127.0.0.1", S3_LATENCY_PORT),
)
FUNCTIONS = (
    S3_LATENCY,
    _http_function("coordinator", COORDINATOR_PORT, "/"),
    # Asking for a customer makes the CRM seed its store before `up` reports it ready.
    _http_function("crm", CRM_PORT, "/?customerId=1"),
    Component("runtime", lambda s: [sys.executable, "-m", "runtime", "all"], _groups_ready),
)
COMPONENTS = INFRA + FUNCTIONS


def _pid_file(name: str) -> Path:
    return state_dir() / "pids" / f"{name}.pid"


def running_pid(name: str) -> int | None:
    try:
        pid = int(_pid_file(name).read_text())
        os.kill(pid, 0)
        return pid
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return None


def _tail(path: Path, lines: int = 25) -> str:
    with contextlib.suppress(FileNotFoundError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return "(no log)"


def launch(component: Component, settings: Settings) -> subprocess.Popen[bytes] | None:
    """Start ``component`` in the background unless it runs; its process, if started now."""
    if (pid := running_pid(component.name)) is not None:
        log.info("%s is already running (pid %d)", component.name, pid)
        return None
    if component.port and _port_open(*component.port(settings)):
        host, port = component.port(settings)
        raise ConfigurationError(
            f"{host}:{port} is taken by a process `make up` did not start; stop it or"
            f" point {component.name} elsewhere"
        )
    log_path = state_dir() / "logs" / f"{component.name}.log"
    for folder in (log_path.parent, _pid_file(component.name).parent):
        folder.mkdir(parents=True, exist_ok=True)
    command = component.command(settings)
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env={**os.environ, **processes.marker_env(state_dir())},
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    _pid_file(component.name).write_text(str(process.pid))
    log.info("%s started (pid %d), log %s", component.name, process.pid, log_path)
    return process


def await_ready(
    component: Component, settings: Settings, process: subprocess.Popen[bytes] | None
) -> None:
    deadline = time.monotonic() + component.timeout_s
    while not component.ready(settings):
        exited = process.poll() is not None if process else running_pid(component.name) is None
        if exited:
            log_path = state_dir() / "logs" / f"{component.name}.log"
            raise ConfigurationError(f"{component.name} exited; its log ends:\n{_tail(log_path)}")
        if time.monotonic() > deadline:
            raise ConfigurationError(f"{component.name} not ready after {component.timeout_s:.0f}s")
        time.sleep(0.3)
    log.info("%s is ready", component.name)


def start(component: Component, settings: Settings) -> None:
    await_ready(component, settings, launch(component, settings))


def start_together(components: list[Component], settings: Settings) -> None:
    """Launch all, then wait for each: the nodes of a cluster need each other to be ready."""
    launched = [(component, launch(component, settings)) for component in components]
    for component, process in launched:
        await_ready(component, settings, process)


def stop(*names: str, grace_s: float = 30.0) -> None:
    """SIGTERM to each, together, then SIGKILL to what still runs after ``grace_s``.

    The nodes of a cluster stop together: a node left alone has lost its quorum and
    could not finish a controlled shutdown.
    """
    pids = {name: pid for name in names if (pid := running_pid(name)) is not None}
    for name, pid in pids.items():
        log.info("stopping %s (pid %d)", name, pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while any(running_pid(name) for name in pids) and time.monotonic() < deadline:
        for pid in pids.values():
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
        time.sleep(0.2)
    for name, pid in pids.items():
        if running_pid(name) is not None:
            log.warning("%s did not stop in %.0fs; killing it", name, grace_s)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
    for name in names:
        _pid_file(name).unlink(missing_ok=True)


def _latency_file() -> Path:
    return state_dir() / "s3-latency-ms"


def _use_latency() -> None:
    """Restart the functions if they run with another S3 latency than asked for, and
    point the functions started from now on at the proxy when one is asked for."""
    running = [c.name for c in FUNCTIONS if running_pid(c.name) is not None]
    current = 0.0
    with contextlib.suppress(FileNotFoundError, ValueError):
        current = float(_latency_file().read_text())
    if running and current != S3_LATENCY_MS:
        log.info("restarting the functions with S3_LATENCY_MS=%g", S3_LATENCY_MS)
        for name in running:
            stop(name)
    _latency_file().parent.mkdir(parents=True, exist_ok=True)
    _latency_file().write_text(f"{S3_LATENCY_MS:g}")


def unmanaged() -> list[processes.StackProcess]:
    """Processes of this stack that no running component accounts for: left behind by a
    crash of the process that started them (or by an older version of this file)."""
    found = processes.marked(state_dir())
    managed = {pid for name in known_names() if (pid := running_pid(name)) is not None}
    accounted = processes.descendants(managed, found)
    return [process for process in found if process.pid not in accounted]


def _refuse_unmanaged() -> None:
    strays = unmanaged()
    if strays:
        listed = "; ".join(f"pid {p.pid}: {p.command}" for p in strays)
        raise ConfigurationError(
            f"{len(strays)} process(es) of this stack run unmanaged ({listed}); a second set"
            " would share their work. `make down` stops them."
        )


def up(settings: Settings, only: set[str] | None = None) -> None:
    _refuse_unmanaged()

    def chosen(components: tuple[Component, ...]) -> list[Component]:
        return [
            c
            for c in components
            if (only is None or c.name in only) and (c is not S3_LATENCY or S3_LATENCY_MS > 0)
        ]

    start_together(chosen(INFRA), settings)
    if all(component.ready(settings) for component in INFRA):
        provision(settings)
    else:
        log.info("topics and buckets not provisioned: Kafka and S3 are not both running")
    _use_latency()
    if S3_LATENCY_MS > 0:
        os.environ["S3_ENDPOINT_URL"] = f"http://127.0.0.1:{S3_LATENCY_PORT}"
    for component in chosen(FUNCTIONS):
        start(component, settings)
    urls = {"coordinator": COORDINATOR_PORT, "crm": CRM_PORT}
    running = [
        f"{c.name} http://127.0.0.1:{urls[c.name]}" if c.name in urls else c.name
        for c in chosen(COMPONENTS)
    ]
    log.info("up: %s; logs in %s", ", ".join(running), state_dir() / "logs")


def known_names() -> list[str]:
    """Every component, and the brokers of a bigger cluster than BROKERS names now."""
    names = [component.name for component in COMPONENTS]
    started = [path.stem for path in (state_dir() / "pids").glob("*.pid")]
    brokers = sorted({name for name in names + started if name.startswith("kafka-")})
    return brokers + [name for name in names if name not in brokers]


def down() -> None:
    names = known_names()
    functions_first = [name for name in reversed(names) if not name.startswith("kafka-")]
    for name in functions_first:
        stop(name)
    stop(*[name for name in names if name.startswith("kafka-")])
    leftovers = processes.marked(state_dir())
    for process in leftovers:
        log.warning("stopping pid %d, left running by a crash: %s", process.pid, process.command)
    for process in processes.stop_all(leftovers):
        log.warning("pid %d did not stop; killed it", process.pid)
    log.info("down: every process stopped")


def status() -> int:
    stopped = 0
    for name in known_names():
        pid = running_pid(name)
        if pid is None and name == S3_LATENCY.name:
            continue  # only there when S3_LATENCY_MS asks for it
        stopped += pid is None
        print(f"{name:12} {'running, pid ' + str(pid) if pid else 'stopped'}")
    strays = unmanaged()
    for process in strays:
        print(f"{'unmanaged':12} pid {process.pid}: {process.command} (`make down` stops it)")
    return 0 if stopped == 0 and not strays else 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.stack", description=__doc__)
    parser.add_argument("action", choices=["up", "down", "status"])
    names = [component.name for component in COMPONENTS]
    parser.add_argument(
        "--only",
        type=lambda text: set(text.split(",")),
        help=f"comma-separated subset of {','.join(names)}, e.g. --only kafka,s3",
    )
    args = parser.parse_args(argv)
    if args.only and not args.only <= set(names):
        parser.error(f"--only takes {','.join(names)}")
    if BROKERS > 1 and "KAFKA_BOOTSTRAP_SERVERS" not in os.environ:
        # Every process `up` starts learns of every node, so any one of them may fail.
        nodes = _nodes(Settings())
        os.environ["KAFKA_BOOTSTRAP_SERVERS"] = broker.bootstrap_servers(nodes)
    if args.action == "up":
        _ensure_token()
    settings = Settings.from_env()
    configure_logging(settings, role="stack", for_people=True)
    try:
        if args.action == "up":
            up(settings, args.only)
        elif args.action == "down":
            down()
        else:
            return status()
    except (BillingError, subprocess.CalledProcessError) as exc:
        log.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
