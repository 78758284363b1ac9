"""``billing audit ls``: who asked for each change, and what came of it, newest first, a
page at a time (an operator's token or above)."""

from __future__ import annotations

import argparse
import shlex
from typing import Any

from cli.api import Api
from cli.table import table


def audit_ls(api: Api, args: argparse.Namespace) -> int:
    records, after = api.audit(
        args.after, args.limit, run=args.run, who=args.who, since=args.since, until=args.until
    )
    rows = [
        (
            record["at"],
            record["who"],
            record["role"],
            record["operation"],
            _target(record),
            _outcome(record),
        )
        for record in records
    ]
    if rows:
        table(("AT", "WHO", "ROLE", "OPERATION", "TARGET", "OUTCOME"), rows)
    else:
        print("no audit records" + (" of these" if args.run or args.who else ""))
    if after is not None:
        given = [(name, getattr(args, name)) for name in ("run", "who", "since", "until")]
        again = " ".join(f"--{name} {shlex.quote(value)}" for name, value in given if value)
        print(f"more: billing audit ls {again + ' ' if again else ''}--after {after}")
    return 0


def _target(record: dict[str, Any]) -> str:
    outcome = record.get("outcome") or {}
    return ", ".join(record["runs"]) or outcome.get("target") or record["path"]


def _outcome(record: dict[str, Any]) -> str:
    outcome = record.get("outcome")
    if outcome is None:
        return "unknown: not recorded"
    replayed = ", replayed" if outcome["replayed"] else ""
    detail = f": {outcome['detail'][:80]}" if "detail" in outcome else ""
    return f"{record['state']} ({outcome['status']}{replayed}){detail}"
