"""Bring the whole local system up or down, each process in the background.

    python -m infra.stack up       # broker, S3, provisioning, coordinator, CRM, runtime
    python -m infra.stack up --only kafka,s3
    python -m infra.stack down     # stop everything `up` started
    python -m infra.stack status

Every process logs to ``.state/logs/<name>.log`` and has its pid in ``.state/pids``.
``up`` returns once every process is ready and is safe to run again.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
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
from infra import broker
from infra.provision import provision_buckets, provision_topics
from runtime.config import Settings
from runtime.logs import configure_logging
from runtime.triggers import TRIGGERS

log = logging.getLogger("infra.stack")

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
COORDINATOR_PORT = int(os.environ.get("COORDINATOR_PORT", "3007"))
CRM_PORT = int(os.environ.get("CRM_PORT", "3008"))


def state_dir() -> Path:
    return Path(os.environ.get("STATE_DIR") or REPO / ".state")


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host or "127.0.0.1", int(port)


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _http_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def _admin(settings: Settings) -> AdminClient:
    # log_level 0 keeps librdkafka quiet about refused connections while a broker starts.
    return AdminClient({"bootstrap.servers": settings.kafka_bootstrap_servers, "log_level": 0})


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


COMPONENTS = (
    Component(
        "kafka",
        lambda s: broker.prepare(state_dir() / "kafka", _host_port(s.kafka_bootstrap_servers)[1]),
        _kafka_ready,
        lambda s: _host_port(s.kafka_bootstrap_servers),
        timeout_s=120,
    ),
    Component(
        "s3",
        lambda s: [str(BIN / "moto_server"), "-H", _s3_address(s)[0], "-p", str(_s3_address(s)[1])],
        lambda s: _http_answers(s.s3_endpoint_url or ""),
        _s3_address,
    ),
    Component(
        "coordinator",
        lambda s: [
            str(BIN / "functions-framework"),
            "--target",
            "coordinator",
            "--host",
            "127.0.0.1",
            "--port",
            str(COORDINATOR_PORT),
        ],
        lambda s: _http_answers(f"http://127.0.0.1:{COORDINATOR_PORT}/"),
        lambda s: ("127.0.0.1", COORDINATOR_PORT),
    ),
    Component(
        "crm",
        lambda s: [
            str(BIN / "functions-framework"),
            "--target",
            "crm",
            "--host",
            "127.0.0.1",
            "--port",
            str(CRM_PORT),
        ],
        lambda s: _http_answers(f"http://127.0.0.1:{CRM_PORT}/?customerId=1"),
        lambda s: ("127.0.0.1", CRM_PORT),
    ),
    Component("runtime", lambda s: [sys.executable, "-m", "runtime", "all"], _groups_ready),
)


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


def start(component: Component, settings: Settings) -> None:
    process: subprocess.Popen[bytes] | None = None
    if (pid := running_pid(component.name)) is not None:
        log.info("%s is already running (pid %d)", component.name, pid)
    else:
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
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        _pid_file(component.name).write_text(str(process.pid))
        log.info("%s started (pid %d), log %s", component.name, process.pid, log_path)
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


def stop(name: str, grace_s: float = 30.0) -> None:
    pid = running_pid(name)
    if pid is None:
        _pid_file(name).unlink(missing_ok=True)
        return
    log.info("stopping %s (pid %d)", name, pid)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while running_pid(name) is not None and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.2)
    if running_pid(name) is not None:
        log.warning("%s did not stop in %.0fs; killing it", name, grace_s)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    _pid_file(name).unlink(missing_ok=True)


def up(settings: Settings, only: set[str] | None = None) -> None:
    for component in COMPONENTS:
        if only is not None and component.name not in only:
            continue
        start(component, settings)
        if component.name == "s3":
            provision_topics(settings)
            provision_buckets(settings)
    log.info(
        "up: coordinator http://127.0.0.1:%d  crm http://127.0.0.1:%d  logs %s",
        COORDINATOR_PORT,
        CRM_PORT,
        state_dir() / "logs",
    )


def down() -> None:
    for component in reversed(COMPONENTS):
        stop(component.name)
    log.info("down: every process stopped")


def status() -> int:
    stopped = 0
    for component in COMPONENTS:
        pid = running_pid(component.name)
        stopped += pid is None
        print(f"{component.name:12} {'running, pid ' + str(pid) if pid else 'stopped'}")
    return 0 if stopped == 0 else 3


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
    settings = Settings.from_env()
    configure_logging(settings.log_level, role="stack")
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
