"""A function process started by ``python -m runtime all`` dies with its supervisor.

Two ways, so that one holds where the other does not: Linux's parent-death signal
(``prctl(PR_SET_PDEATHSIG, SIGTERM)``), and a thread that watches the parent and sends
this process SIGTERM once the parent is gone. Either way the function stops as on any
SIGTERM: it finishes and commits what it has taken, and exits.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import sys
import threading

from runtime.config.tuning import LIFELINE_WATCH_S

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1  # prctl's option, from <linux/prctl.h>


def set_parent_death_signal() -> None:
    """Ask the kernel for SIGTERM when the parent dies (a no-op where there is no prctl)."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def hold(supervisor_pid: int) -> None:
    """Stop (SIGTERM to itself) as soon as ``supervisor_pid`` is no longer the parent."""
    set_parent_death_signal()

    def watch() -> None:
        while os.getppid() == supervisor_pid:
            threading.Event().wait(LIFELINE_WATCH_S)
        log.warning("the supervisor (pid %d) is gone; stopping", supervisor_pid)
        os.kill(os.getpid(), signal.SIGTERM)

    # The parent may have died before the signal was asked for: the watch sees that too.
    threading.Thread(target=watch, name="lifeline", daemon=True).start()


def hold_if_supervised(supervisor_pid: int | None) -> None:
    """``supervisor_pid``: BILLING_SUPERVISOR_PID, which the supervisor sets for its children."""
    if supervisor_pid is not None:
        hold(supervisor_pid)
