"""A real billing run on the running stack, through the `billing` CLI as a user types it:
every customer of the CRM, followed to the end; the run's bills in S3; one bill's text.

python -m infra.demo        (make demo brings the stack up first)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from runtime.config import StackSettings

BIN = Path(sys.executable).parent


def aws_env(settings: StackSettings) -> dict[str, str]:
    """The aws CLI's environment: the keys the local S3 server takes, unless AWS's own."""
    key, secret = settings.local_s3_keys()
    return {"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret, **os.environ}


def aws_s3_ls(settings: StackSettings, path: str = "", recursive: bool = False) -> list[str]:
    """The `aws s3 ls` of the bills bucket (or of a run's folder in it), as a user types it."""
    endpoint = ["--endpoint-url", settings.s3_endpoint_url] if settings.s3_endpoint_url else []
    flags = ["--recursive"] if recursive else []
    return [str(BIN / "aws"), *endpoint, "s3", "ls", *flags, f"s3://{settings.bills_bucket}/{path}"]


def _shown(command: list[str], env: dict[str, str]) -> str:
    """Run ``command`` as typed at a prompt, its output shown as it comes; its output."""
    typed = " ".join([Path(command[0]).name, *command[1:]])
    print(f"$ {typed}", flush=True)
    lines = []
    with subprocess.Popen(command, text=True, env=env, stdout=subprocess.PIPE) as process:
        assert process.stdout is not None
        for line in process.stdout:
            print(line, end="", flush=True)
            lines.append(line)
    if process.returncode != 0:
        raise SystemExit(f"demo: `{typed}` failed")
    return "".join(lines)


def main() -> int:
    settings = StackSettings.from_env()
    billing = str(BIN / "billing")
    env = aws_env(settings)
    started = _shown([billing, "run", "--all-customers", "--wait"], env)
    run_id = started.split(":", 1)[0]
    _shown(aws_s3_ls(settings, f"{run_id}/"), env)
    _shown([billing, "bills", "show", "1"], env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
