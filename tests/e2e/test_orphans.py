"""No worker outlives its supervisor, and `make down` stops every process of its stack,
and only those: crashes of the processes that started them included."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from infra import processes as stack_processes
from runtime.config import StackSettings
from tests.helpers.processes import Processes, run_module, stack_env
from tests.helpers.waiting import wait_for

pytestmark = pytest.mark.slow


def test_the_function_processes_die_with_their_supervisor(
    settings: StackSettings, processes: Processes
) -> None:
    supervisor = processes.start(
        [sys.executable, "-m", "runtime", "all"], settings, "runtime", clean_exits=(0, -9)
    )

    def workers_started() -> list[int]:
        found = re.findall(r"started [\w-]+ \(pid (\d+)\)", supervisor.output())
        return [int(pid) for pid in found] if len(found) == 4 else []

    workers = wait_for("four function processes", workers_started)
    for function in ("engine-start", "crm-answer", "engine-complete"):
        supervisor.wait_for_output(f"{function}: consuming")

    supervisor.kill()  # kill -9: it cannot stop its children itself

    wait_for(
        "every function process gone", lambda: not any(map(stack_processes.alive, workers)), 20
    )
    output = supervisor.output()
    for function in ("engine-start", "crm-answer", "engine-complete", "retry-unanswered"):
        assert f"{function}: stopped" in output, f"{function} did not stop cleanly:\n{output}"


def test_make_down_stops_what_lost_its_parent_and_leaves_the_rest_alone(
    settings: StackSettings, processes: Processes, tmp_path: Path
) -> None:
    env = stack_env(tmp_path)
    state = Path(env["STATE_DIR"])
    # Started by hand from another folder, against the same broker: not the stack's.
    by_hand = processes.start(
        [sys.executable, "-m", "runtime", "engine-start"],
        settings,
        "by-hand",
    )
    try:
        run_module(env, "infra.stack", "up")
        pids = {
            name: int((state / "pids" / f"{name}.pid").read_text())
            for name in ("runtime", "coordinator")
        }
        os.kill(pids["runtime"], signal.SIGKILL)
        os.kill(pids["coordinator"], signal.SIGKILL)
        assert stack_processes.marked(state), "the stack's processes carry no marker"

        # A stray of the stack: `up` refuses to start a second set beside it.
        stray = subprocess.Popen(
            ["sleep", "300"], env={**os.environ, **stack_processes.marker_env(state)}
        )
        refused = run_module(env, "infra.stack", "up", check=False)
        assert f"pid {stray.pid}: sleep 300" in refused, refused
        assert "`make down` stops them" in refused
        assert " started (pid" not in refused, "a second set was started"
        status = run_module(env, "infra.stack", "status", check=False)
        assert f"unmanaged    pid {stray.pid}: sleep 300" in status, status
    finally:
        run_module(env, "infra.stack", "down", check=False)
    stray.wait(10)
    assert stack_processes.marked(state) == []
    assert by_hand.popen.poll() is None, "make down stopped a process it did not start"
    assert by_hand.terminate() == 0
