"""Fixtures of the end-to-end tier: the HTTP functions and the runtime as processes."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from runtime.config import Settings
from tests.support import Processes, start_http_function

TOKEN = "e2e-token-Zq8w"
BILLING = str(Path(sys.executable).parent / "billing")


@pytest.fixture
def stack(settings: Settings, processes: Processes) -> Settings:
    """Coordinator, CRM and runtime with bearer auth on; the settings a client needs."""
    guarded = replace(settings, auth_token=TOKEN)
    coordinator, _ = start_http_function(processes, guarded, "coordinator")
    crm, _ = start_http_function(processes, guarded, "crm")
    processes.runtime("all", guarded)
    return replace(guarded, coordinator_url=coordinator, crm_url=crm)


def billing(
    settings: Settings, *arguments: str, token: str | None = TOKEN
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **settings.to_env(), "BILLING_TOKEN": token or ""}
    return subprocess.run(
        [BILLING, *arguments], capture_output=True, text=True, env=env, timeout=180
    )
