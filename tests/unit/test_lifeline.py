"""A function process notices its supervisor is gone even without Linux's parent-death signal."""

from __future__ import annotations

import signal
import threading

import pytest

from runtime import lifeline


def test_the_watch_stops_the_process_once_its_parent_changes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parents = iter([100, 100, 1])  # the supervisor, then init once it died
    signalled = threading.Event()
    sent: list[tuple[int, int]] = []

    def kill(pid: int, signum: int) -> None:
        sent.append((pid, signum))
        signalled.set()

    monkeypatch.setattr(lifeline, "set_parent_death_signal", lambda: None)
    monkeypatch.setattr(lifeline, "LIFELINE_WATCH_S", 0.01)
    monkeypatch.setattr("runtime.lifeline.os.getppid", lambda: next(parents, 1))
    monkeypatch.setattr("runtime.lifeline.os.getpid", lambda: 4242)
    monkeypatch.setattr("runtime.lifeline.os.kill", kill)
    lifeline.hold(100)
    assert signalled.wait(5), "the watch never noticed the parent was gone"
    assert sent == [(4242, signal.SIGTERM)]


def test_a_process_without_a_supervisor_holds_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    started = threading.active_count()
    lifeline.hold_if_supervised(None)
    assert threading.active_count() == started
