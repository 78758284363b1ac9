"""``billing tokens add|ls|revoke``: the named tokens, through the coordinator (an admin's
token only). A token is printed once, as it is made, on a line of its own on stdout (so
that ``TOKEN=$(billing tokens add ci --role operator)`` keeps it); what to do with it goes
to stderr."""

from __future__ import annotations

import argparse
import sys

from cli.api import Api
from cli.table import table

# How soon every HTTP function takes a new token or refuses a revoked one (runtime/auth.py).
SEEN_WITHIN_S = 30


def tokens_add(api: Api, args: argparse.Namespace) -> int:
    made = api.create_token(args.name, args.role)
    print(made["token"], flush=True)
    print(
        f"token {made['name']!r} ({made['role']}) made: it is shown this once and cannot be"
        " shown again, as only its SHA-256 digest is kept; keep it now (a secret store, your"
        f" CI's secrets). Every function takes it within {SEEN_WITHIN_S} s.",
        file=sys.stderr,
    )
    return 0


def tokens_ls(api: Api, args: argparse.Namespace) -> int:
    header = ("NAME", "ROLE", "STATE", "MADE", "BY", "REVOKED")
    shown = 0
    for page in api.token_pages():
        rows = [
            (
                token["name"],
                token["role"],
                token["state"],
                token["createdAt"],
                token["createdBy"] or "",
                token.get("revokedAt") or "",
            )
            for token in page
        ]
        if rows:
            table(header if shown == 0 else None, rows)
        shown += len(rows)
    if shown == 0:
        print("no named tokens (BILLING_TOKEN, if the functions have one, is not listed)")
    return 0


def tokens_revoke(api: Api, args: argparse.Namespace) -> int:
    revoked = api.revoke_token(args.name)
    print(
        f"token {revoked['name']!r} ({revoked['role']}) revoked at {revoked['revokedAt']}:"
        f" every function refuses it within {SEEN_WITHIN_S} s; its name is not given to"
        " another token"
    )
    return 0
