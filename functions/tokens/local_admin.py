"""The local stack's admin token (`make up`, ``infra/stack.py``): a named token of the role
admin, ``local-admin``, whose token `make up` keeps in ``.state/billing-token`` for the
clients of this machine (the CLI, the console's first sign-in).

`make up` is run again and again: the token the file holds is kept as long as the store
knows it as an active admin's. A file of an earlier version (a token the functions took as
BILLING_TOKEN) is adopted under the name, so clients and functions still running keep
working. A token revoked, or a file lost, gets a new token; as a name is never given to
another token, it is then ``local-admin-2``, ``local-admin-3``...
"""

from __future__ import annotations

import itertools

from functions.access import Role, digest, malformed, new_token
from functions.storage.base import StoredToken, TokenStore

LOCAL_ADMIN = "local-admin"
MADE_BY = "make up"


def keep_local_admin(store: TokenStore, kept: str | None, at: str) -> tuple[str, str, bool]:
    """The token for the file (``kept``: what it holds now, if anything), its name, and
    whether it is another than ``kept``: the file's if the store knows it as an active
    admin's, or can adopt it; else a new one."""
    token = new_token()
    if kept is not None and malformed(kept) is None:
        kept_digest = digest(kept)
        holder = next((t for t in store.every() if t.digest == kept_digest), None)
        if holder is not None and not holder.revoked and holder.role is Role.ADMIN:
            return kept, holder.name, False
        if holder is None:
            token = kept  # an earlier version's, or one the store lost: adopted
    for number in itertools.count(1):
        name = LOCAL_ADMIN if number == 1 else f"{LOCAL_ADMIN}-{number}"
        if store.create(StoredToken(name, Role.ADMIN, digest(token), at, MADE_BY)):
            return token, name, token != kept
    raise AssertionError("unreachable")  # pragma: no cover
