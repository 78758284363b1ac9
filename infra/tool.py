"""How every ``python -m infra.<tool>`` starts and fails: settings from the environment,
logs for people, and one line naming the problem instead of a traceback."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Callable

from functions.errors import BillingError
from runtime.config import StackSettings
from runtime.logs import configure_logging


def run_tool(role: str, act: Callable[[StackSettings], int]) -> int:
    log = logging.getLogger(f"infra.{role}")
    try:
        settings = StackSettings.from_env()
        configure_logging(settings, role=role, for_people=True)
        return act(settings)
    except (BillingError, subprocess.CalledProcessError) as exc:
        log.error("%s", exc)
        return 1
