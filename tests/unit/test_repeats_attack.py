"""Attacks on the answers of a repeated cancel or revoke (``Idempotent-Replayed``): each
test held the audit trail to its promise that every state change has exactly one record
of it, naming its actor, and failed while the defect it names was there."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest

from functions.errors import StorageUnavailable
from functions.storage import keys
from functions.storage.memory_bucket import MemoryBucket
from tests.unit.callers import ADMIN, Clock, changed_by, token_of
from tests.unit.harness import Harness, app, client


def test_a_revoke_whose_record_s3_refused_is_the_revoke_and_the_next_repeats_it(
    guarded: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Root's revoke creates its revocation (token-revocations/ann.json), then S3 fails at
    the token's record. It was root's revoke all the same: every function's cache reads the
    revocations, so the token is refused, and root is answered 200. Boss's revoke repeats
    it (Idempotent-Replayed, revoked by root) and rewrites the record: the audit holds one
    revoke that changed state, root's. (Found when a 503 left the token working, and the
    revoke that made it refused was recorded as a replay.)"""
    guarded.services._clock = Clock()
    ann = token_of("ann", "operator")
    root, boss = token_of("root", "admin"), token_of("boss", "admin")
    writing = MemoryBucket.put_json
    failing = [True]

    def put_json(bucket: MemoryBucket, key: str, value: Any, **kwargs: Any) -> Any:
        if key == keys.token_record("ann") and failing[0]:
            failing[0] = False
            raise StorageUnavailable(f"S3 refused {key}")
        return writing(bucket, key, value, **kwargs)

    monkeypatch.setattr(MemoryBucket, "put_json", put_json)
    assert client("coordinator").post("/tokens/ann/revoke", headers=root).status_code == 200
    assert client("coordinator").get("/whoami", headers=ann).status_code == 401
    finished = client("coordinator").post("/tokens/ann/revoke", headers=boss)
    assert finished.headers["Idempotent-Replayed"] == "true"
    assert finished.status_code == 200, finished.get_json()
    assert finished.get_json()["revokedBy"] == "root"  # the decision's, not boss's
    records = client("coordinator").get("/audit?limit=100", headers=ADMIN).get_json()["records"]
    revokes = changed_by(records, "revokeToken")
    assert revokes == ["root"]


def test_one_admin_revoking_twice_in_one_millisecond_is_one_revoke(
    guarded: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same admin (or a JWT whose sub is that token's name) revoking twice in one
    millisecond: one is the revoke and the other repeats it, told by which created the
    revocation, not by comparing its time and caller (found when both were the revoke)."""
    moment = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
    guarded.services._clock = lambda: moment
    token_of("ann", "operator")
    root = token_of("root", "admin")
    both = threading.Barrier(2, timeout=5)
    reading = MemoryBucket.get_json

    def get_together(bucket: MemoryBucket, key: str) -> Any:
        found = reading(bucket, key)
        if key == keys.token_record("ann"):
            both.wait()
        return found

    monkeypatch.setattr(MemoryBucket, "get_json", get_together)
    served = app("coordinator")  # one app, as functions-framework serves its threads
    with ThreadPoolExecutor(2) as pool:
        answers = list(
            pool.map(
                lambda _: served.test_client().post("/tokens/ann/revoke", headers=root), [1, 2]
            )
        )
    assert [a.status_code for a in answers] == [200, 200]
    assert sorted(a.headers.get("Idempotent-Replayed", "") for a in answers) == ["", "true"]
