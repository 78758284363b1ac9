"""``all``: every Kafka- and timer-triggered function its settings turn on, each in its own
process, restarted if it dies."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from dataclasses import replace

from runtime.config import FunctionSettings
from runtime.config.tuning import RESTART_DELAY_S, STOP_GRACE_S
from runtime.stopping import stop_event
from runtime.triggers import enabled_functions

log = logging.getLogger(__name__)


def _start(function: str, settings: FunctionSettings, metrics_port: int) -> subprocess.Popen[bytes]:
    # The child stops when this process dies, however it dies (see runtime/lifeline.py).
    own = replace(settings, metrics_port=metrics_port, supervisor_pid=os.getpid())
    env = {**os.environ, **own.to_env()}
    process = subprocess.Popen([sys.executable, "-m", "runtime", function], env=env)
    log.info("started %s (pid %d)", function, process.pid)
    return process


def supervise(settings: FunctionSettings) -> int:
    first_metrics_port = settings.metrics_port
    stop = stop_event("supervisor")

    functions = enabled_functions(settings)
    # Each function its own metrics port, counting up from the first (0 keeps them all off).
    ports = {
        function: first_metrics_port + index if first_metrics_port else 0
        for index, function in enumerate(functions)
    }
    processes = {function: _start(function, settings, ports[function]) for function in functions}
    while not stop.is_set():
        time.sleep(0.2)
        for function, process in list(processes.items()):
            code = process.poll()
            if code is not None and not stop.is_set():
                log.error(
                    "%s exited with code %s; restarting in %.0fs", function, code, RESTART_DELAY_S
                )
                time.sleep(RESTART_DELAY_S)
                processes[function] = _start(function, settings, ports[function])

    for process in processes.values():
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + STOP_GRACE_S
    for function, process in processes.items():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop in %.0fs; killing it", function, STOP_GRACE_S)
            process.kill()
    log.info("all functions stopped")
    return 0
