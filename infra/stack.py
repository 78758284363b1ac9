"""Bring the whole local system up or down, each process in the background.

    python -m infra.stack up       # broker, S3, provisioning, coordinator, CRM, runtime
    python -m infra.stack up --only kafka-1,s3
    BROKERS=3 python -m infra.stack up   # a three-node Kafka cluster instead of one broker
    python -m infra.stack down     # stop everything `up` started
    python -m infra.stack status

Every process logs to ``.state/logs/<name>.log`` and has its pid in ``.state/pids``.
``up`` returns once every process is ready and is safe to run again.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import os
import sys
from pathlib import Path

from functions.context import iso_millis, utc_now
from functions.errors import ConfigurationError
from functions.storage.bucket import Bucket
from functions.storage.s3_tokens import S3TokenStore
from functions.tokens.local_admin import keep_local_admin
from infra import broker, components, traces
from infra.components import FUNCTIONS, S3_LATENCY, Component
from infra.processes import Background, stop_all
from infra.provision import provision
from infra.tool import run_tool
from runtime.config import StackSettings
from runtime.services import s3_client

log = logging.getLogger("infra.stack")
LOCAL_TOKENS_BUCKET = "billing-tokens"


class Stack:
    """The local system of one state folder, as ``settings`` describe it."""

    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        self.background = Background(Path(settings.state_dir))
        self.infra = components.infra(settings)

    def known_names(self) -> list[str]:
        """Every component, and the brokers of a bigger cluster than BROKERS names now."""
        names = [component.name for component in self.infra + FUNCTIONS]
        started = self.background.started_names()
        brokers = sorted({name for name in names + started if name.startswith("kafka-")})
        # A trace backend started by `up TRACES=1` is stopped by `down` without it.
        extra = [components.TRACES.name] if components.TRACES.name in started else []
        return (
            brokers
            + [name for name in names if name not in brokers]
            + [name for name in extra if name not in names]
        )

    def up(self, only: set[str] | None = None) -> None:
        self._refuse_unmanaged()
        settings = self.settings
        latency = settings.s3_latency_ms

        def chosen(group: tuple[Component, ...]) -> list[Component]:
            return [
                c
                for c in group
                if (only is None or c.name in only) and (c is not S3_LATENCY or latency > 0)
            ]

        self.background.start_together(chosen(self.infra), settings)
        if all(component.ready(settings) for component in self.infra):
            provision(settings)
            _keep_local_admin(settings)
        else:
            log.info("topics and buckets not provisioned: Kafka and S3 are not both running")
        self._restart_if_changed()
        proxy = f"http://127.0.0.1:{settings.s3_latency_port}"
        env = {"S3_ENDPOINT_URL": proxy} if latency > 0 else {}
        if settings.traces:
            env["OTEL_EXPORTER_OTLP_ENDPOINT"] = traces.otlp_endpoint(settings)
        for component in chosen(FUNCTIONS):
            process = self.background.launch(component, settings, env)
            self.background.await_ready(component, settings, process)
        urls = {"coordinator": settings.coordinator_address, "crm": settings.crm_address}
        running = [
            f"{c.name} {urls[c.name]}" if c.name in urls else c.name
            for c in chosen(self.infra + FUNCTIONS)
        ]
        log.info("up: %s; logs in %s", ", ".join(running), Path(settings.state_dir) / "logs")

    def down(self) -> None:
        names = self.known_names()
        for name in [name for name in reversed(names) if not name.startswith("kafka-")]:
            self.background.stop(name)
        self.background.stop(*[name for name in names if name.startswith("kafka-")])
        leftovers = self.background.unmanaged([])
        for process in leftovers:
            log.warning("stopping pid %d, left by a crash: %s", process.pid, process.command)
        for process in stop_all(leftovers):
            log.warning("pid %d did not stop; killed it", process.pid)
        log.info("down: every process stopped")

    def status(self) -> int:
        stopped = 0
        for name in self.known_names():
            pid = self.background.running_pid(name)
            if pid is None and name == S3_LATENCY.name:
                continue  # only there when S3_LATENCY_MS asks for it
            stopped += pid is None
            print(f"{name:12} {'running, pid ' + str(pid) if pid else 'stopped'}")
        strays = self.background.unmanaged(self.known_names())
        for process in strays:
            print(f"{'unmanaged':12} pid {process.pid}: {process.command} (`make down` stops it)")
        return 0 if stopped == 0 and not strays else 3

    def _refuse_unmanaged(self) -> None:
        strays = self.background.unmanaged(self.known_names())
        if strays:
            listed = "; ".join(f"pid {p.pid}: {p.command}" for p in strays)
            raise ConfigurationError(
                f"{len(strays)} process(es) of this stack run unmanaged ({listed}); a second"
                " set would share their work. `make down` stops them."
            )

    def _restart_if_changed(self) -> None:
        """Restart the functions if they run with another S3 latency, tracing, or bucket of
        tokens than asked for (an earlier version's took BILLING_TOKEN_FILE alone)."""
        started_with = Path(self.settings.state_dir) / "functions-started-with"
        wanted = f"S3_LATENCY_MS={self.settings.s3_latency_ms:g} TRACES={self.settings.traces}"
        if self.settings.tokens_bucket:
            wanted += f" TOKENS_BUCKET={self.settings.tokens_bucket}"
        running = [c.name for c in FUNCTIONS if self.background.running_pid(c.name) is not None]
        current = "S3_LATENCY_MS=0 TRACES=0"
        with contextlib.suppress(FileNotFoundError):
            current = started_with.read_text()
        if running and current != wanted:
            log.info("restarting the functions with %s", wanted)
            for name in running:
                self.background.stop(name)
        started_with.parent.mkdir(parents=True, exist_ok=True)
        started_with.write_text(wanted)


def _with_token(settings: StackSettings) -> StackSettings:
    """Auth is on in the local stack too: the functions keep named tokens in a bucket of
    their own (TOKENS_BUCKET, ``billing-tokens`` unless set), and take BILLING_TOKEN too if
    the environment sets it."""
    if settings.tokens_bucket:
        return settings
    # The functions started from here on read it from their environment.
    os.environ["TOKENS_BUCKET"] = LOCAL_TOKENS_BUCKET
    return dataclasses.replace(settings, tokens_bucket=LOCAL_TOKENS_BUCKET)


def _keep_local_admin(settings: StackSettings) -> None:
    """Once the buckets are there: `.state/billing-token` holds an admin's named token the
    store knows (``local-admin``), where the local clients look, unless the environment
    gives a token of its own (BILLING_TOKEN, BILLING_TOKEN_FILE), the clients' as before."""
    if settings.auth_token is not None or settings.auth_token_file or not settings.tokens_bucket:
        return
    path = settings.token_file
    kept = (path.read_text().strip() or None) if path.exists() else None
    store = S3TokenStore(Bucket(s3_client(settings), settings.tokens_bucket))
    token, name, changed = keep_local_admin(store, kept, iso_millis(utc_now()))
    if changed or kept is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.chmod(0o600)  # a file made by hand keeps its mode through touch
        path.write_text(token + "\n")
    log.info("%s holds the token of %s, an admin (`billing tokens ls` lists them)", path, name)


def _with_every_node(settings: StackSettings) -> StackSettings:
    """Every process `up` starts learns of every node, so any one of them may fail."""
    if settings.brokers == 1 or "KAFKA_BOOTSTRAP_SERVERS" in os.environ:
        return settings
    servers = broker.bootstrap_servers(components.kafka_nodes(settings))
    os.environ["KAFKA_BOOTSTRAP_SERVERS"] = servers
    return dataclasses.replace(settings, kafka_bootstrap_servers=servers)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.stack", description=__doc__)
    parser.add_argument("action", choices=["up", "down", "status"])
    parser.add_argument(
        "--only",
        type=lambda text: set(text.split(",")),
        help="comma-separated subset of the components, e.g. --only kafka-1,s3",
    )
    args = parser.parse_args(argv)

    def act(settings: StackSettings) -> int:
        stack = Stack(_with_every_node(settings))
        names = stack.known_names()
        if args.only and not args.only <= set(names):
            raise ConfigurationError(f"--only takes {','.join(names)}")
        if args.action == "up":
            Stack(_with_token(stack.settings)).up(args.only)
        elif args.action == "down":
            stack.down()
        else:
            return stack.status()
        return 0

    return run_tool("stack", act)


if __name__ == "__main__":
    sys.exit(main())
