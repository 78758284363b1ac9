"""How the stack's processes are started in the background, watched and stopped.

Each has a pid file and a log under the stack's state folder, and carries
``BILLING_STACK=<the stack's state folder>`` in its environment, which everything it
starts inherits: the runtime's function processes, functions-framework's workers, the
JVMs of the broker and the S3 server. A process is this stack's exactly when it carries
this stack's marker, so another checkout's stack, a test's own cluster or a function
started by hand elsewhere is never touched.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import psutil

from functions.errors import ConfigurationError
from infra.components import Component, port_open
from runtime.config import REPO, StackSettings

log = logging.getLogger("infra.stack")

MARKER = "BILLING_STACK"


@dataclass(frozen=True)
class StackProcess:
    pid: int
    parent: int
    command: str


def marker_env(state_dir: Path) -> dict[str, str]:
    return {MARKER: str(state_dir.resolve())}


def alive(pid: int) -> bool:
    """Whether ``pid`` runs; a zombie has exited, only its parent's wait is missing."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _ancestors() -> set[int]:
    this = psutil.Process()
    return {this.pid, *(parent.pid for parent in this.parents())}


def marked(state_dir: Path) -> list[StackProcess]:
    """The running processes that carry this stack's marker (never this one's own line)."""
    wanted = str(state_dir.resolve())
    mine = _ancestors()
    found = []
    # A process we may not look into answers None for what it hides: not ours, then.
    for process in psutil.process_iter(["ppid", "cmdline", "environ", "status"]):
        info = process.info
        if process.pid in mine or info["status"] in (None, psutil.STATUS_ZOMBIE):
            continue
        if (info["environ"] or {}).get(MARKER) == wanted:
            command = " ".join(info["cmdline"] or ())[:200]
            found.append(StackProcess(process.pid, info["ppid"], command))
    return found


def descendants(roots: set[int], processes: list[StackProcess]) -> set[int]:
    """``roots`` and every process below them, among ``processes``."""
    found = set(roots)
    grew = True
    while grew:
        below = {p.pid for p in processes if p.parent in found} - found
        grew = bool(below)
        found |= below
    return found


def stop_all(processes: list[StackProcess], grace_s: float = 30.0) -> list[StackProcess]:
    """SIGTERM to each, SIGKILL to those still there after ``grace_s``; the killed ones."""
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    alive = list(processes)
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = [p for p in alive if _running(p.pid)]
    for process in alive:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGKILL)
    return alive


def _running(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaps it if it is ours
    return alive(pid)


@dataclass(frozen=True)
class Background:
    """The processes of the stack kept in ``state_dir``: pid files, logs, their marker."""

    state_dir: Path

    def pid_file(self, name: str) -> Path:
        return self.state_dir / "pids" / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        return self.state_dir / "logs" / f"{name}.log"

    def started_names(self) -> list[str]:
        return [path.stem for path in (self.state_dir / "pids").glob("*.pid")]

    def running_pid(self, name: str) -> int | None:
        """The pid of ``name`` while it runs. One that exited is not running even while its
        parent has not reaped it yet (a test process that started the broker is such a
        parent while another stops it): a stop would wait out its whole grace for it."""
        try:
            pid = int(self.pid_file(name).read_text())
        except (FileNotFoundError, ValueError):
            return None
        return pid if alive(pid) else None

    def tail(self, name: str, lines: int = 25) -> str:
        with contextlib.suppress(FileNotFoundError):
            text = self.log_file(name).read_text(errors="replace")
            return "\n".join(text.splitlines()[-lines:])
        return "(no log)"

    def launch(
        self, component: Component, settings: StackSettings, env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[bytes] | None:
        """Start ``component`` unless it runs, with ``env`` over this process's environment;
        its process, if started now."""
        if (pid := self.running_pid(component.name)) is not None:
            log.info("%s is already running (pid %d)", component.name, pid)
            return None
        if component.port and port_open(*component.port(settings)):
            host, port = component.port(settings)
            raise ConfigurationError(
                f"{host}:{port} is taken by a process `make up` did not start; stop it or"
                f" point {component.name} elsewhere"
            )
        log_path = self.log_file(component.name)
        for folder in (log_path.parent, self.pid_file(component.name).parent):
            folder.mkdir(parents=True, exist_ok=True)
        command = component.command(settings)
        with log_path.open("ab") as log_output:
            process = subprocess.Popen(
                command,
                cwd=REPO,
                env={**os.environ, **(env or {}), **marker_env(self.state_dir)},
                stdout=log_output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.pid_file(component.name).write_text(str(process.pid))
        log.info("%s started (pid %d), log %s", component.name, process.pid, log_path)
        return process

    def await_ready(
        self, component: Component, settings: StackSettings, process: subprocess.Popen[bytes] | None
    ) -> None:
        deadline = time.monotonic() + component.timeout_s
        while not component.ready(settings):
            if process.poll() is not None if process else self.running_pid(component.name) is None:
                raise ConfigurationError(
                    f"{component.name} exited; its log ends:\n{self.tail(component.name)}"
                )
            if time.monotonic() > deadline:
                raise ConfigurationError(
                    f"{component.name} not ready after {component.timeout_s:.0f}s"
                )
            time.sleep(0.3)
        log.info("%s is ready", component.name)

    def start_together(self, components: list[Component], settings: StackSettings) -> None:
        """Launch all, then wait for each: the nodes of a cluster need each other to be ready."""
        launched = [(component, self.launch(component, settings)) for component in components]
        for component, process in launched:
            self.await_ready(component, settings, process)

    def stop(self, *names: str, grace_s: float = 30.0) -> None:
        """SIGTERM to each, together, then SIGKILL to what still runs after ``grace_s``.

        The nodes of a cluster stop together: a node left alone has lost its quorum and
        could not finish a controlled shutdown.
        """
        pids = {name: pid for name in names if (pid := self.running_pid(name)) is not None}
        for name, pid in pids.items():
            log.info("stopping %s (pid %d)", name, pid)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while any(self.running_pid(name) for name in pids) and time.monotonic() < deadline:
            for pid in pids.values():
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)
            time.sleep(0.2)
        for name, pid in pids.items():
            if self.running_pid(name) is not None:
                log.warning("%s did not stop in %.0fs; killing it", name, grace_s)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
        for name in names:
            self.pid_file(name).unlink(missing_ok=True)

    def unmanaged(self, names: list[str]) -> list[StackProcess]:
        """Processes of this stack that none of the running ``names`` accounts for: left
        behind by a crash of the process that started them (or by an older version)."""
        found = marked(self.state_dir)
        managed = {pid for name in names if (pid := self.running_pid(name)) is not None}
        accounted = descendants(managed, found)
        return [process for process in found if process.pid not in accounted]
