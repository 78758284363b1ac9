"""The plan of a `billing run`: its runs' customer lists as cut, and the key each run is
posted with, kept in the CLI's state folder until every run went out.

Why: a `billing run` of many customers is several ``POST /``, and one may fail (a 503)
after others went out. The same command run again reads its plan and posts the same runs
with the same Idempotency-Keys: the coordinator answers those that went out with the run
they started and publishes the rest, so nobody is billed twice. Re-reading the CRM instead
would cut other runs under other keys, and bill again the customers of those that went out.

A plan is named by a digest of the coordinator's address and the command's arguments that
choose the customers (the ids, --all-customers or --unbilled, and the period), so only the
same command against the same coordinator finds it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cli.api import CliError

PLAN_VERSION = 1
# A plan older than this is finished only when asked (--resume): the same command run a
# month later means this month's run, not the one that failed then.
FINISHED_UNASKED_WITHIN = timedelta(days=1)


@dataclass(frozen=True)
class Command:
    """What chooses a `billing run`'s customers, normalized: ``--wait`` or ``--new`` do not."""

    coordinator: str
    customers: tuple[str, ...] = ()
    all_customers: bool = False
    unbilled: bool = False
    period: str | None = None

    def __str__(self) -> str:
        words = ["billing run", *self.customers]
        words += ["--all-customers"] if self.all_customers else []
        words += ["--period", self.period] if self.period else []
        words += ["--unbilled"] if self.unbilled else []
        return " ".join(words)

    @property
    def digest(self) -> str:
        fields = asdict(self) | {"customers": list(self.customers)}
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Plan:
    """The runs a `billing run` posts: run i (from 1) has ``runs[i - 1]``'s customers and
    the Idempotency-Key ``<key>-<i>``."""

    command: str
    began: str  # ISO 8601, UTC
    key: str
    period: str | None
    runs: tuple[tuple[str, ...], ...]

    @classmethod
    def new(cls, command: Command, runs: list[list[str]]) -> Plan:
        began = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        return cls(
            str(command), began, secrets.token_hex(16), command.period, tuple(map(tuple, runs))
        )

    def run_key(self, number: int) -> str:
        return f"{self.key}-{number}"

    @property
    def age(self) -> timedelta:
        return datetime.now(UTC) - datetime.fromisoformat(self.began.replace("Z", "+00:00"))

    @property
    def customers(self) -> int:
        return sum(len(run) for run in self.runs)


class PlanFolder:
    """The CLI's state folder, where unfinished plans wait (``BILLING_STATE_DIR``)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, command: Command) -> Path:
        return self.folder / f"run-plan-{command.digest}.json"

    def ready(self) -> None:
        """The folder made if need be, and writable: else nothing is posted."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            if not os.access(self.folder, os.W_OK | os.X_OK):
                raise PermissionError("not writable")
        except OSError as exc:
            raise self._unwritable(exc) from None

    def read(self, command: Command) -> Plan | None:
        path = self.path(command)
        try:
            stored = json.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise CliError(
                f"cannot read the plan of an unfinished `{command}` in {path} ({exc});"
                " give --new to forget it and start afresh"
            ) from None
        if not isinstance(stored, dict) or stored.get("version") != PLAN_VERSION:
            raise CliError(
                f"{path} is not a plan of this version of `billing`; finish it with the"
                " version that wrote it, or give --new to forget it and start afresh"
            )
        try:
            runs = tuple(tuple(str(customer) for customer in run) for run in stored["runs"])
            plan = Plan(stored["command"], stored["began"], stored["key"], stored["period"], runs)
            datetime.fromisoformat(plan.began)
        except (KeyError, TypeError, ValueError):
            plan = None
        if plan is None or not plan.runs or not all(plan.runs) or plan.period != command.period:
            raise CliError(
                f"{path} is not a whole plan of `{command}`; give --new to forget it and start"
                " afresh"
            )
        return plan

    def write(self, command: Command, plan: Plan) -> Plan:
        """Kept whole or not at all, and only if the command has no plan yet: written aside,
        then linked to its name, which fails if the name is taken. The plan kept: this one,
        or the one the same command running beside this one wrote first."""
        path = self.path(command)
        aside = path.with_suffix(f".{os.getpid()}.{plan.key[:8]}.tmp")
        record = {"version": PLAN_VERSION, **asdict(plan)}
        try:
            aside.write_text(json.dumps(record), "utf-8")
            os.link(aside, path)
        except FileExistsError:
            kept = self.read(command)
            if kept is None:  # finished and forgotten in between: this one, then
                return self.write(command, plan)
            return kept
        except OSError as exc:
            raise self._unwritable(exc) from None
        finally:
            with contextlib.suppress(OSError):
                aside.unlink()
        return plan

    def forget(self, command: Command, plan: Plan | None = None) -> None:
        """Every run of ``plan`` went out (it is forgotten if it is still the command's: the
        same command running beside this one may have its own), or the user asked for a new
        start (--new: whatever plan the command has)."""
        path = self.path(command)
        if plan is not None:
            try:
                kept = self.read(command)
            except CliError:
                return
            if kept is None or kept.key != plan.key:
                return
        with contextlib.suppress(FileNotFoundError):
            path.unlink()

    def _unwritable(self, exc: OSError) -> CliError:
        return CliError(
            f"cannot keep the run's plan in {self.folder} ({exc.strerror or exc}), so nothing"
            " was sent: without it, a run that fails midway could not be finished without"
            " billing customers twice. Set BILLING_STATE_DIR to a folder you can write"
        )
