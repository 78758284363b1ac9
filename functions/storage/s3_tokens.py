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
from functions.errors import StorageUnavailable
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


def _revoked_by(token: StoredToken, revocation: Mapping[str, Any] | None) -> StoredToken:
    """The token as its revocation (``keys.token_revocation``, if there is one) revoked it;
    a record that says it was revoked already keeps its first time and caller."""
    if token.revoked or revocation is None or revocation.get("name") != token.name:
        return token
    return dataclasses.replace(
        token,
        revoked_at=str(revocation["revokedAt"]),
        revoked_by=_text(revocation.get("revokedBy")),
    )


class S3TokenStore:
    """``TokenStore`` on one bucket."""

    def __init__(self, bucket: Objects) -> None:
        self.bucket = bucket
        # What the last ``every`` read, by key: its version and what it held (a token's
        # record, or a revocation).
        self._read: dict[str, tuple[str | None, Mapping[str, Any] | None]] = {}
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
        token = None if record is None else stored_token(record)
        if token is None or token.revoked:
            return token
        return _revoked_by(token, self.bucket.get_json(keys.token_revocation(name)))

    def revoke(self, name: str, at: str, by: str | None) -> tuple[StoredToken, bool] | None:
        """A revoke is its revocation, created once (``keys.token_revocation``): of two at
        once, the one whose create is kept revoked it (True), the other repeats it (False);
        every function's cache reads the revocations with the records. The token's record
        is then rewritten to say so too, which may fail without undoing the revoke."""
        record = self.bucket.get_json(keys.token_record(name))
        if record is None:
            return None
        token = stored_token(record)
        if token.revoked:
            return token, False
        key = keys.token_revocation(name)
        earlier = self.bucket.get_json(key)  # a revoke whose record was not rewritten
        decided = {"name": name, "revokedAt": at, "revokedBy": by}
        won = (
            earlier is None and self.bucket.put_json(key, decided, only_if_absent=True) is not None
        )
        revoked = _revoked_by(token, decided if won else earlier or self.bucket.get_json(key))
        try:
            self.bucket.put_json(keys.token_record(name), token_record(revoked))
        except StorageUnavailable as exc:
            log.warning("token %s is revoked; its record says so once rewritten: %s", name, exc)
        return revoked, won

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
        # A revocation whose record was not rewritten yet (S3 failed in between): rare, and
        # only those are read, found by one listing of the page's names.
        pending: set[str] = set()
        if tokens:
            last = keys.token_revocation(tokens[-1].name)
            first = keys.token_revocation(after) if after else ""
            for key in self.bucket.names(keys.TOKEN_REVOCATIONS, start_after=first):
                if key > last:
                    break
                pending.add(key)
        tokens = [
            token
            if token.revoked or keys.token_revocation(token.name) not in pending
            else _revoked_by(token, self.bucket.get_json(keys.token_revocation(token.name)))
            for token in tokens
        ]
        more = len(names) > limit and bool(shown)
        return Page(tokens, keys.name_of_token_record(shown[-1]) if more else None)

    def every(self) -> list[StoredToken]:
        with self._lock:
            listed = dict(self.bucket.versions(keys.TOKENS))
            listed.update(self.bucket.versions(keys.TOKEN_REVOCATIONS))
            changed = [
                key
                for key, version in listed.items()
                if version is None or key not in self._read or self._read[key][0] != version
            ]
            records = self.bucket.get_json_all(changed)
            read = {key: self._read[key] for key in listed if key not in changed}
            for key, record in zip(changed, records, strict=True):
                read[key] = (listed[key], record)
            self._read = read
            tokens = {
                key: token
                for key, (_, record) in sorted(read.items())
                if key.startswith(keys.TOKENS) and (token := self._token(key, record)) is not None
            }
            return [
                _revoked_by(token, read.get(keys.token_revocation(token.name), (None, None))[1])
                for token in tokens.values()
            ]

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
