"""The stack's background processes as `make up` and `make down` see them, by pid file."""

from __future__ import annotations

import subprocess
from pathlib import Path

import psutil

from infra.processes import Background, alive
from tests.helpers.waiting import wait_for


def test_a_process_that_exited_is_not_running_while_its_parent_has_not_reaped_it(
    tmp_path: Path,
) -> None:
    # This test is the parent and does not reap it: as a pytest worker that started the
    # broker is while another worker stops it.
    exited = subprocess.Popen(["true"], start_new_session=True)
    try:
        wait_for(
            "the process to exit",
            lambda: psutil.Process(exited.pid).status() == psutil.STATUS_ZOMBIE,
        )
        background = Background(tmp_path)
        background.pid_file("gone").parent.mkdir(parents=True)
        background.pid_file("gone").write_text(str(exited.pid))
        assert background.running_pid("gone") is None
        background.stop("gone")
        assert not background.pid_file("gone").exists()
    finally:
        exited.wait()


def test_a_running_process_is_running_by_its_pid_file(tmp_path: Path) -> None:
    sleeper = subprocess.Popen(["sleep", "600"], start_new_session=True)  # as `make up` starts it
    try:
        background = Background(tmp_path)
        background.pid_file("sleeper").parent.mkdir(parents=True)
        background.pid_file("sleeper").write_text(str(sleeper.pid))
        assert background.running_pid("sleeper") == sleeper.pid
        background.stop("sleeper")
        assert not alive(sleeper.pid)  # gone, or exited and not reaped yet
        assert background.running_pid("sleeper") is None
    finally:
        sleeper.kill()
        sleeper.wait()
