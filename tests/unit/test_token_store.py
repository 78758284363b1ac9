"""The named tokens' store: one contract, run on the in-memory store the unit tests use and
on the S3 one (moto); then what the S3 one alone promises: the bucket holds no token, a
refresh that finds nothing changed costs one listing, a record written by hand is skipped;
and the local stack's admin token, kept across `make up`s."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from functions.access import Role, digest, new_token
from functions.storage import keys
from functions.storage.base import StoredToken, TokenStore
from functions.storage.bucket import Bucket
from functions.storage.memory_bucket import MemoryBucket
from functions.storage.s3_tokens import S3TokenStore
from functions.tokens.local_admin import keep_local_admin
from tests.unit.harness import TOKENS_BUCKET, s3_requests
from tests.unit.memory_tokens import MemoryTokenStore

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

AT = "2026-12-01T08:00:00.000Z"


def token(name: str, role: Role = Role.VIEWER, secret: str | None = None) -> StoredToken:
    return StoredToken(name, role, digest(secret or new_token()), AT, "BILLING_TOKEN")


@pytest.fixture(params=["memory", "s3"])
def store(request: pytest.FixtureRequest) -> TokenStore:
    if request.param == "memory":
        return MemoryTokenStore()
    s3: S3Client = request.getfixturevalue("s3")
    s3.create_bucket(Bucket=TOKENS_BUCKET)
    return S3TokenStore(Bucket(s3, TOKENS_BUCKET))


def test_a_token_is_kept_once_under_its_name(store: TokenStore) -> None:
    first, second = token("ci", Role.OPERATOR), token("ci", Role.ADMIN)
    assert store.create(first)
    assert not store.create(second)
    assert store.get("ci") == first
    assert store.get("nobody") is None


def test_a_revoked_token_keeps_its_first_revocation_and_its_name(store: TokenStore) -> None:
    kept = token("ci")
    assert store.create(kept)
    done = store.revoke("ci", "2026-12-02T00:00:00.000Z", "alice")
    assert done is not None
    revoked, mine = done
    assert mine and revoked.revoked
    assert (revoked.revoked_at, revoked.revoked_by, revoked.digest) == (
        "2026-12-02T00:00:00.000Z",
        "alice",
        kept.digest,
    )
    again = store.revoke("ci", "2026-12-03T00:00:00.000Z", "bob")
    assert again == (revoked, False)  # the first revoke's, and not this call's
    assert store.get("ci") == revoked
    assert not store.create(token("ci")), "a name is never given to another token"
    assert store.revoke("nobody", AT, "alice") is None


def test_tokens_are_listed_a_page_at_a_time_in_the_keys_order(store: TokenStore) -> None:
    names = ["b", "a-b", "a", "a.b", "a0", "c_d"]
    for name in names:
        assert store.create(token(name))
    store.revoke("a0", AT, None)
    listed: list[str] = []
    after = ""
    while True:
        page = store.page(after, 2)
        listed += [t.name for t in page.items]
        if page.next_after is None:
            break
        after = page.next_after
    assert listed == [t.name for t in store.every()]
    assert sorted(listed) == sorted(names)
    assert store.page("", 10).next_after is None
    assert store.page("zzz", 10).items == []
    assert [t.revoked for t in store.every()].count(True) == 1


def test_of_concurrent_creates_of_one_name_one_is_kept(store: TokenStore) -> None:
    tokens = [token("race", Role.ADMIN) for _ in range(8)]
    won: list[StoredToken] = []
    start = threading.Barrier(len(tokens))

    def create(candidate: StoredToken) -> None:
        start.wait()
        if store.create(candidate):
            won.append(candidate)

    threads = [threading.Thread(target=create, args=(t,)) for t in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1
    assert store.get("race") == won[0]
    assert [t.name for t in store.every()] == ["race"]


class _AnswerLost(MemoryBucket):
    """S3 wrote a create, its answer was lost, and the client's retry was told 412."""

    def put_bytes(self, key: str, body: bytes, content_type: str, **given: Any) -> str | None:
        written = super().put_bytes(key, body, content_type, **given)
        return None if given.get("only_if_absent") else written


def test_a_create_whose_answer_was_lost_finds_its_own_record() -> None:
    """Else the name is taken by a record whose token nobody has, and the admin is told
    someone made it already."""
    store = S3TokenStore(_AnswerLost(TOKENS_BUCKET))
    made = token("ci")
    assert store.create(made)
    assert store.get("ci") == made
    assert not store.create(token("ci"))  # another token of that name: refused, as ever


def test_the_bucket_holds_digests_and_never_a_token(s3: S3Client) -> None:
    s3.create_bucket(Bucket=TOKENS_BUCKET)
    bucket = Bucket(s3, TOKENS_BUCKET)
    secret = new_token()
    assert S3TokenStore(bucket).create(token("ci", secret=secret))
    stored = b"".join(bucket.get_bytes(key) or b"" for key in bucket.names())
    assert secret.encode() not in stored
    assert secret[len("bt_") :].encode() not in stored
    assert digest(secret).encode() in stored
    assert list(bucket.names()) == ["tokens/ci.json"]


def test_a_refresh_reads_only_what_changed(s3: S3Client) -> None:
    s3.create_bucket(Bucket=TOKENS_BUCKET)
    store = S3TokenStore(Bucket(s3, TOKENS_BUCKET))
    for name in ("a", "b", "c"):
        store.create(token(name))
    before = s3_requests()
    assert len(store.every()) == 3
    # A listing of the records and one of the revocations, a read each.
    assert s3_requests() - before == 2 + 3
    before = s3_requests()
    assert len(store.every()) == 3
    assert s3_requests() - before == 2  # nothing changed: the listings alone
    store.revoke("b", AT, None)
    before = s3_requests()
    assert [t.revoked for t in store.every()] == [False, True, False]
    assert s3_requests() - before == 2 + 2  # b's record, rewritten, and its revocation


def test_a_record_that_is_no_token_is_skipped(
    s3: S3Client, caplog: pytest.LogCaptureFixture
) -> None:
    s3.create_bucket(Bucket=TOKENS_BUCKET)
    bucket = Bucket(s3, TOKENS_BUCKET)
    store = S3TokenStore(bucket)
    store.create(token("good"))
    bucket.put_json("tokens/bad.json", {"name": "bad", "role": "root", "sha256": "0" * 64})
    bucket.put_json("tokens/other.json", {**_record("elsewhere"), "name": "elsewhere"})
    assert [t.name for t in store.every()] == ["good"]
    assert [t.name for t in store.page("", 10).items] == ["good"]
    assert "tokens/bad.json is no token record" in caplog.text


def _record(name: str) -> dict[str, str]:
    return {"name": name, "role": "admin", "sha256": "0" * 64, "createdAt": AT}


def test_the_local_stack_keeps_its_admin_token_across_ups() -> None:
    store = MemoryTokenStore()
    first, name, changed = keep_local_admin(store, None, AT)
    assert (name, changed) == ("local-admin", True)
    assert first.startswith("bt_")
    assert keep_local_admin(store, first, AT) == (first, "local-admin", False)
    # An earlier version's file: its token is adopted, so what runs with it keeps working.
    earlier, other = "an-earlier-versions-token-0123456789", MemoryTokenStore()
    assert keep_local_admin(other, earlier, AT) == (earlier, "local-admin", False)
    assert other.get("local-admin") == StoredToken(
        "local-admin", Role.ADMIN, digest(earlier), AT, "make up"
    )
    # Revoked: a new token, under a name never given before.
    store.revoke("local-admin", AT, "alice")
    second, name, changed = keep_local_admin(store, first, AT)
    assert (name, changed) == ("local-admin-2", True) and second != first
    # A file lost: a new token again.
    third, name, _ = keep_local_admin(store, None, AT)
    assert name == "local-admin-3" and third not in (first, second)


class _NoETags(Bucket):
    """A server whose listings carry no ETag."""

    def versions(self, prefix: str) -> Iterator[tuple[str, str | None]]:
        for key, _ in super().versions(prefix):
            yield key, None


def test_a_server_that_lists_no_etag_has_every_record_read_each_time(s3: S3Client) -> None:
    s3.create_bucket(Bucket=TOKENS_BUCKET)
    store = S3TokenStore(_NoETags(s3, TOKENS_BUCKET))
    store.create(token("a"))
    store.every()
    store.revoke("a", AT, None)
    [revoked] = store.every()
    assert revoked.revoked


def test_a_revoke_is_its_revocation_though_the_record_was_not_rewritten(
    store: TokenStore,
) -> None:
    """A revoke is its revocation, created once: a process stopped (or S3 failing) before
    it rewrote the record leaves the token revoked all the same, for every function's
    cache, a read and a listing; a revoke after it repeats it and rewrites the record."""
    assert store.create(token("ci"))
    assert store.create(token("other"))
    bucket = store.bucket  # type: ignore[attr-defined]
    first = {"name": "ci", "revokedAt": AT, "revokedBy": "alice"}
    bucket.put_json(keys.token_revocation("ci"), first, only_if_absent=True)
    taken = store.get("ci")
    assert taken is not None and (taken.revoked_at, taken.revoked_by) == (AT, "alice")
    assert [t.revoked for t in store.every()] == [True, False]
    assert [t.revoked for t in store.page("", 10).items] == [True, False]
    assert [t.revoked for t in store.page("", 1).items] == [True]
    again = store.revoke("ci", "2026-12-02T00:00:00.000Z", "bob")
    assert again == (taken, False)
    assert bucket.get_json(keys.token_record("ci"))["revokedBy"] == "alice"
