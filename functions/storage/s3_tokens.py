"""The named tokens on S3: ``tokens/<name>.json`` in ``TOKENS_BUCKET``, one record a name
holding the token's SHA-256 digest (never the token), its role and who made it when; a
revoked token's record says when it was revoked and by whom, and keeps its name. Who
revoked it is decided once, by ``token-revocations/<name>.json``, created once.

A token is made with a create that refuses to overwrite (``If-None-Match: *``), so of two
``POST /tokens`` of one name one is kept and the other is told the name is taken. A revoke
rewrites the record with what its revocation holds: no one else ever writes a record once
made, so it loses nothing.

Every HTTP function reads every record through its cache (``runtime/auth.py``) at most
every 30 s: one listing, which gives each record's ETag and time, and a read of each record
new or changed since the listing before; a refresh when nothing changed costs the listing
alone (a server that lists no ETag has every record read each time).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Mapping
from typing import Any

from functions.access import Role
from functions.storage import keys
from functions.storage.base import Page, StoredToken
from functions.storage.objects import Objects

log = logging.getLogger(__name__)


def token_record(token: StoredToken) -> dict[str, Any]:
    return {
        "name": token.name,
        "role": token.role.value,
        "sha256": token.digest,
        "createdAt": token.created_at,
        "createdBy": token.created_by,
        "revokedAt": token.revoked_at,
        "revokedBy": token.revoked_by,
    }


def stored_token(record: Mapping[str, Any]) -> StoredToken:
    """The token a record holds; ValueError if it is not one (a record written by hand)."""
    try:
        digest = str(record["sha256"])
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError("its sha256 is not a SHA-256 digest in hex")
        return StoredToken(
            name=str(record["name"]),
            role=Role(record["role"]),
            digest=digest,
            created_at=str(record["createdAt"]),
            created_by=_text(record.get("createdBy")),
            revoked_at=_text(record.get("revokedAt")),
            revoked_by=_text(record.get("revokedBy")),
        )
    except (KeyError, TypeError) as exc:
        raise ValueError(f"not a token record: {exc!r}") from None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


class S3TokenStore:
    """``TokenStore`` on one bucket."""

    def __init__(self, bucket: Objects) -> None:
        self.bucket = bucket
        # What the last ``every`` read, by key: the record's version and the token it held.
        self._read: dict[str, tuple[str | None, StoredToken | None]] = {}
        self._lock = threading.Lock()

    def create(self, token: StoredToken) -> bool:
        """True also if the record holds this very token already: a create whose answer
        was lost is tried again by the S3 client, told 412, and finds its own (a digest is
        no other token's)."""
        key = keys.token_record(token.name)
        if self.bucket.put_json(key, token_record(token), only_if_absent=True) is not None:
            return True
        return self.get(token.name) == token

    def get(self, name: str) -> StoredToken | None:
        record = self.bucket.get_json(keys.token_record(name))
        return None if record is None else stored_token(record)

    def revoke(self, name: str, at: str, by: str | None) -> StoredToken | None:
        """The revoke is decided by a create (``keys.token_revocation``): of two at once,
        one is kept, and both write its time and caller into the token's record, which the
        functions' caches read. A revoke that stopped in between is finished by the next."""
        token = self.get(name)
        if token is None or token.revoked:
            return token
        decided = {"name": name, "revokedAt": at, "revokedBy": by}
        key = keys.token_revocation(name)
        if self.bucket.put_json(key, decided, only_if_absent=True) is None:
            decided = dict(self.bucket.get_json(key) or decided)  # the other revoke's
        revoked = dataclasses.replace(
            token, revoked_at=str(decided["revokedAt"]), revoked_by=_text(decided["revokedBy"])
        )
        self.bucket.put_json(keys.token_record(name), token_record(revoked))
        return revoked

    def page(self, after: str, limit: int) -> Page[StoredToken]:
        start = keys.token_record(after) if after else ""
        names: list[str] = []
        for key in self.bucket.names(keys.TOKENS, start_after=start):
            names.append(key)
            if len(names) > limit:
                break
        shown = names[:limit]
        records = self.bucket.get_json_all(shown)
        found = (self._token(key, record) for key, record in zip(shown, records, strict=True))
        tokens = [token for token in found if token is not None]
        more = len(names) > limit and bool(shown)
        return Page(tokens, keys.name_of_token_record(shown[-1]) if more else None)

    def every(self) -> list[StoredToken]:
        with self._lock:
            listed = dict(self.bucket.versions(keys.TOKENS))
            changed = [
                key
                for key, version in listed.items()
                if version is None or key not in self._read or self._read[key][0] != version
            ]
            records = self.bucket.get_json_all(changed)
            read = {key: self._read[key] for key in listed if key not in changed}
            for key, record in zip(changed, records, strict=True):
                read[key] = (listed[key], self._token(key, record))
            self._read = read
            return [token for _, (_, token) in sorted(read.items()) if token is not None]

    @staticmethod
    def _token(key: str, record: Mapping[str, Any] | None) -> StoredToken | None:
        """The token of a record read, or None: gone since it was listed, or no token."""
        if record is None:
            return None
        try:
            token = stored_token(record)
        except ValueError as exc:
            log.warning("s3 object %s is no token record and is not used: %s", key, exc)
            return None
        if keys.token_record(token.name) != key:
            log.warning("s3 object %s names another token (%s); it is not used", key, token.name)
            return None
        return token
