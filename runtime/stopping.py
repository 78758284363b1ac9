"""How every long-running process of the runtime hears that it should stop."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

log = logging.getLogger(__name__)


def stop_event(name: str) -> threading.Event:
    """An event set on SIGTERM or SIGINT, logged as ``<name>: SIGTERM received; stopping``.
    The process finishes what it took, then stops when it next looks at the event."""
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("%s: %s received; stopping", name, signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    return stop
