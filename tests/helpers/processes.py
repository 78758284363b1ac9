"""Processes started as users start them, each with its output in a log file."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from infra.components import http_answers
from runtime.config import REPO, StackSettings
from tests.helpers.ports import free_port, free_port_block
from tests.helpers.waiting import wait_for


class Process:
    """A process started as a user starts it, with its output in a log file."""

    def __init__(
        self,
        command: Sequence[str],
        settings: StackSettings,
        log: Path,
        clean_exits: tuple[int, ...] = (0,),
    ) -> None:
        self.log = log
        self.killed = False
        self.clean_exits = clean_exits
        # A broker of a test's own cluster: its data goes with the test, so teardown kills
        # it rather than wait for a controlled shutdown (one whose cluster lost its quorum
        # cannot finish one).
        self.disposable = False
        env = {**os.environ, **settings.to_env(), "PYTHONUNBUFFERED": "1"}
        with log.open("wb") as out:
            self.popen = subprocess.Popen(
                list(command), cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT
            )

    def raw_output(self) -> str:
        return self.log.read_text(errors="replace")

    def log_lines(self) -> list[dict[str, Any]]:
        """The process's JSON log lines, parsed; lines of other writers are left out."""
        return [line for line in map(_json_line, self.raw_output().splitlines()) if line]

    def output(self) -> str:
        """The output as a person reads it: a JSON log line becomes its level, logger,
        message and traceback; other lines stay as they are."""
        readable = []
        for raw in self.raw_output().splitlines():
            line = _json_line(raw)
            if line is None:
                readable.append(raw)
                continue
            readable.append(f"{line['level']} {line['logger']}: {line['message']}")
            if "error" in line:
                readable.append(str(line["error"]))
        return "\n".join(readable) + "\n"

    def wait_for_output(self, text: str, timeout_s: float = 60) -> None:
        wait_for(f"{text!r} in {self.log.name}", lambda: text in self.output() or None, timeout_s)

    def terminate(self, timeout_s: float = 30) -> int:
        """SIGTERM, as an orchestrator stops it; the exit code."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            if self.disposable:
                self.killed = True
                return self.popen.wait()
            raise AssertionError(f"{self.log.name} ignored SIGTERM for {timeout_s}s") from None

    def kill(self) -> None:
        """SIGKILL, as a crash: nothing gets committed."""
        self.killed = True
        self.popen.kill()
        self.popen.wait()


def _json_line(raw: str) -> dict[str, Any] | None:
    if not raw.startswith("{"):
        return None
    try:
        line = json.loads(raw)
    except ValueError:
        return None
    return line if isinstance(line, dict) and "message" in line else None


# The supervisor's line of a function killed by a segmentation fault or an abort.
CRASHED = re.compile(r"[\w-]+ exited with code -(?:11|6)\b")


class Processes:
    """The processes of one test. Teardown stops those still running with SIGTERM (kills a
    disposable one) and requires every one not killed on purpose to have exited cleanly."""

    def __init__(self, logs: Path) -> None:
        self._logs = logs
        self._started: list[Process] = []

    def start(
        self,
        command: Sequence[str],
        settings: StackSettings,
        name: str,
        clean_exits: tuple[int, ...] = (0,),
    ) -> Process:
        process = Process(command, settings, self._logs / f"{name}.log", clean_exits)
        self._started.append(process)
        return process

    @property
    def started(self) -> list[Process]:
        return list(self._started)

    def runtime(self, function: str, settings: StackSettings, name: str | None = None) -> Process:
        return self.start([sys.executable, "-m", "runtime", function], settings, name or function)

    def stop_all(self) -> None:
        """Newest first, so the functions stop before the brokers they talk to; every one
        is stopped even when an earlier one fails to stop."""
        failures = []
        for process in reversed(self._started):
            if process.disposable:
                # Killed now, but one that had already exited must have exited cleanly.
                code = process.popen.poll()
                if code is not None and code not in process.clean_exits and not process.killed:
                    failures.append(
                        f"{process.log.name} exited with {code}:\n{process.output()[-3000:]}"
                    )
                process.kill()
                continue
            try:
                code = process.terminate()
            except AssertionError as exc:
                failures.append(str(exc))
                continue
            if code not in process.clean_exits and not process.killed:
                failures.append(
                    f"{process.log.name} exited with {code}:\n{process.output()[-3000:]}"
                )
            # A function its supervisor restarted after a crash (no test sends these).
            crash = CRASHED.search(process.output())
            if crash is not None:
                failures.append(f"{process.log.name}: {crash.group(0)}")
        assert not failures, "\n".join(failures)


def start_http_function(
    processes: Processes,
    settings: StackSettings,
    target: str,
    name: str | None = None,
    port: int | None = None,
) -> tuple[str, Process]:
    """A functions-framework target started as docs/architecture.md says (on ``port``, or a free
    one): its URL once it answers, and its process."""
    port = port or free_port()
    functions_framework = str(Path(sys.executable).parent / "functions-framework")
    command = [functions_framework, "--target", target, "--port", str(port)]
    process = processes.start(command, settings, name or target)
    url = f"http://127.0.0.1:{port}/"
    # Asked for one customer, not all of them, the CRM answers at once whatever it holds.
    probe = url + "?customerId=1" if target == "crm" else url
    wait_for(f"{target} at {url} to answer", lambda: http_answers(probe), timeout_s=30)
    return url, process


def stack_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a whole stack of a test's own (`make up` with its own state
    folder and ports), beside any other stack on the machine."""

    coordinator, crm = free_port(), free_port()
    return {
        **os.environ,
        "STATE_DIR": str(tmp_path / "state"),
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port_block(2)}",
        "S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
        "COORDINATOR_PORT": str(coordinator),
        "CRM_PORT": str(crm),
        "COORDINATOR_URL": f"http://127.0.0.1:{coordinator}",
        "CRM_URL": f"http://127.0.0.1:{crm}",
        "METRICS_PORT": "0",
        "BROKERS": "1",
        "S3_LATENCY_MS": "0",
        "LOG_FORMAT": "text",
    }


def run_module(env: dict[str, str], *command: str, check: bool = True) -> str:
    """``python -m <command>`` as a user runs it; its output."""
    done = subprocess.run(
        [sys.executable, "-m", *command],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if check:
        assert done.returncode == 0, f"{command} exited with {done.returncode}:\n{done.stderr}"
    return done.stdout + done.stderr
