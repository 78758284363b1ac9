"""Podman serving the Docker API on a socket of its own, which `docker compose` drives
(``DOCKER_HOST=unix://...``): how `make compose-check` runs docker-compose.yml on a machine
without a Docker engine. ``infra/install.sh --containers`` installs podman and runc and
configures them (docs/compose.md)."""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

from functions.errors import ConfigurationError

log = logging.getLogger(__name__)


class PodmanService:
    """One `podman system service` on ``folder/podman.sock``, started and stopped by us."""

    def __init__(self, folder: Path) -> None:
        self.socket = folder / "podman.sock"
        self.log = folder / "podman-service.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def docker_host(self) -> str:
        return f"unix://{self.socket}"

    def start(self, timeout_s: float = 60) -> None:
        if shutil.which("podman") is None:
            raise ConfigurationError(
                "no podman on PATH: `bash infra/install.sh --containers` installs it"
                " (`make compose-check` does)"
            )
        with self.log.open("wb") as output:
            self._process = subprocess.Popen(
                ["podman", "system", "service", "--time=0", self.docker_host],
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout_s
        while not self.answers():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise ConfigurationError(
                    f"podman's API service did not answer on {self.socket}; its log:"
                    f" {self.log.read_text()[-2000:]}"
                )
            time.sleep(0.2)
        log.info("podman serves the Docker API at %s", self.docker_host)

    def answers(self) -> bool:
        """Whether the service answers the Docker API's ping."""
        try:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.settimeout(2)
                sock.connect(str(self.socket))
                sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: podman\r\n\r\n")
                return b" 200 " in sock.recv(64)
        except OSError:
            return False

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None
        self.socket.unlink(missing_ok=True)


class HealthChecks:
    """Runs the health checks of a compose project's containers every ``interval_s``, as
    Docker's engine does. Podman leaves them to systemd's timers, and where no systemd runs
    (a container, this kind of machine) nothing would: a container with a health check
    would stay "starting", and `docker compose up` would wait for it forever."""

    def __init__(self, project: str, interval_s: float = 5.0) -> None:
        self.project = project
        self.interval_s = interval_s
        self._without_check: set[str] = set()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="health-checks", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        while not self._stopping.wait(self.interval_s):
            for container in self._running() - self._without_check:
                checked = subprocess.run(
                    ["podman", "healthcheck", "run", container], capture_output=True, text=True
                )
                if "no defined healthcheck" in checked.stderr:
                    self._without_check.add(container)

    def _running(self) -> set[str]:
        listed = subprocess.run(
            [
                "podman",
                "ps",
                "--quiet",
                "--no-trunc",
                "--filter",
                f"label=com.docker.compose.project={self.project}",
            ],
            capture_output=True,
            text=True,
        )
        return set(listed.stdout.split())
