"""Finding every process a stack started, whatever became of their parents.

Each process `make up` starts carries ``BILLING_STACK=<the stack's state folder>`` in its
environment, and everything it starts inherits it: the runtime's function processes,
functions-framework's workers, the JVMs of the broker and the S3 server. A process is
this stack's exactly when it carries this stack's marker, so another checkout's stack,
a test's own cluster or a function started by hand elsewhere is never touched.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

MARKER = "BILLING_STACK"
PROC = Path("/proc")


@dataclass(frozen=True)
class StackProcess:
    pid: int
    parent: int
    command: str


def marker_env(state_dir: Path) -> dict[str, str]:
    return {MARKER: str(state_dir.resolve())}


def _parent(pid: int) -> int:
    stat = (PROC / str(pid) / "stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def _command(pid: int) -> str:
    argv = (PROC / str(pid) / "cmdline").read_bytes().split(b"\0")
    return " ".join(part.decode(errors="replace") for part in argv if part)[:200]


def _ancestors() -> set[int]:
    found, pid = set(), os.getpid()
    while pid > 1:
        found.add(pid)
        try:
            pid = _parent(pid)
        except (OSError, ValueError, IndexError):
            break
    return found


def marked(state_dir: Path) -> list[StackProcess]:
    """The running processes that carry this stack's marker (never this one's own line)."""
    wanted = f"{MARKER}={state_dir.resolve()}".encode()
    mine = _ancestors()
    found = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit() or int(entry.name) in mine:
            continue
        pid = int(entry.name)
        with contextlib.suppress(OSError, ValueError, IndexError):
            if wanted in (entry / "environ").read_bytes().split(b"\0"):
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":  # a zombie has exited; only its parent's wait is missing
                    found.append(StackProcess(pid, _parent(pid), _command(pid)))
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
    try:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        state = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
