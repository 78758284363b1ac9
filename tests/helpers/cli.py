"""The `billing` command as a user runs it, against a stack of a test's own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from runtime.config import StackSettings

# The bearer token the end-to-end stacks run with.
TOKEN = "e2e-token-Zq8w"
BILLING = str(Path(sys.executable).parent / "billing")


def billing(
    settings: StackSettings, *arguments: str, token: str | None = TOKEN
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **settings.to_env(), "BILLING_TOKEN": token or ""}
    return subprocess.run(
        [BILLING, *arguments], capture_output=True, text=True, env=env, timeout=180
    )
