"""Fixtures of the end-to-end tier: the HTTP functions and the runtime as processes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from runtime.config import StackSettings
from tests.helpers.cli import TOKEN
from tests.helpers.processes import Processes, start_http_function


@pytest.fixture
def stack(settings: StackSettings, processes: Processes) -> StackSettings:
    """Coordinator, CRM and runtime with bearer auth on; the settings a client needs."""
    guarded = replace(settings, auth_token=TOKEN)
    coordinator, _ = start_http_function(processes, guarded, "coordinator")
    crm, _ = start_http_function(processes, guarded, "crm")
    processes.runtime("all", guarded)
    return replace(guarded, coordinator_url=coordinator, crm_url=crm)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The trace tests last: on a fresh machine Jaeger is still building in the background
    (`make install-tests` starts it) while the others run, and they wait for it."""
    items.sort(key=lambda item: item.path.name == "test_traces.py")
