"""The functions' cache of named tokens and the check of a bearer token, on a clock of the
test's own: the store is read at most every 25 s (REFRESH_S), a token made or revoked is seen within
that, a flood of guesses costs a read in 5 s, and every comparison is in constant time."""

from __future__ import annotations

import hmac

import pytest

from functions.access import Caller, Role, digest, new_token
from functions.errors import StorageUnavailable
from functions.storage.base import StoredToken
from runtime.auth import REFRESH_S, Authenticator, TokenCache, Unauthenticated
from tests.unit.memory_tokens import MemoryTokenStore

AT = "2026-12-01T08:00:00.000Z"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def made(store: MemoryTokenStore, name: str, role: Role = Role.OPERATOR) -> str:
    secret = new_token()
    assert store.create(StoredToken(name, role, digest(secret), AT))
    return secret


@pytest.fixture
def store() -> MemoryTokenStore:
    return MemoryTokenStore()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache(store: MemoryTokenStore, clock: Clock) -> TokenCache:
    return TokenCache(store, clock=clock)


def test_the_store_is_read_once_a_refresh_however_many_lookups(
    store: MemoryTokenStore, clock: Clock, cache: TokenCache
) -> None:
    secret = made(store, "ci")
    for _ in range(1000):
        assert cache.lookup(digest(secret)) is not None
        clock.now += 0.01  # ten seconds in all
    assert store.reads == 1
    clock.now = 1000 + REFRESH_S - 0.01
    assert cache.lookup(digest(secret)) is not None
    assert store.reads == 1
    clock.now = 1000 + REFRESH_S
    assert cache.lookup(digest(secret)) is not None
    assert store.reads == 2


def test_a_revoked_token_is_refused_once_the_cache_is_a_refresh_old(
    store: MemoryTokenStore, clock: Clock, cache: TokenCache
) -> None:
    secret = made(store, "ci")
    assert cache.lookup(digest(secret)) is not None
    store.revoke("ci", AT, "alice")
    assert REFRESH_S <= 25  # a refresh and its read within the 30 s promised
    clock.now += REFRESH_S - 0.1  # another process's revoke: taken as before, for now
    found = cache.lookup(digest(secret))
    assert found is not None and not found.revoked
    clock.now += 0.1
    found = cache.lookup(digest(secret))
    assert found is not None and found.revoked


def test_a_change_made_here_is_seen_at_once(
    store: MemoryTokenStore, clock: Clock, cache: TokenCache
) -> None:
    secret = made(store, "ci")
    assert cache.lookup(digest(secret)) is not None
    store.revoke("ci", AT, "alice")
    cache.forget()  # what the token operations tell their own process's cache
    found = cache.lookup(digest(secret))
    assert found is not None and found.revoked


def test_a_new_token_is_known_within_5_seconds_and_guesses_cost_a_read_each_5_seconds(
    store: MemoryTokenStore, clock: Clock, cache: TokenCache
) -> None:
    assert cache.lookup(digest("anything")) is None
    secret = made(store, "new")
    for _ in range(100):  # a flood of guesses, each a well-formed named token
        assert cache.lookup(digest(new_token()), may_be_new=True) is None
    assert store.reads == 1
    clock.now += 4.9
    assert cache.lookup(digest(secret), may_be_new=True) is None
    clock.now += 0.1
    assert cache.lookup(digest(secret), may_be_new=True) is not None
    assert store.reads == 2
    # Without the form of a named token, a miss waits for the refresh.
    clock.now += 10
    assert cache.lookup(digest("not-a-named-token")) is None
    assert store.reads == 2


def test_a_store_that_cannot_be_read_is_read_again_at_the_next_lookup(
    store: MemoryTokenStore, clock: Clock, cache: TokenCache
) -> None:
    secret = made(store, "ci")
    store.down = True
    with pytest.raises(StorageUnavailable):
        cache.lookup(digest(secret))
    store.down = False
    assert cache.lookup(digest(secret)) is not None


def test_a_revoked_record_wins_over_another_of_its_digest(
    store: MemoryTokenStore, cache: TokenCache
) -> None:
    secret = new_token()
    store.create(StoredToken("copy-a", Role.ADMIN, digest(secret), AT))
    store.create(StoredToken("copy-b", Role.ADMIN, digest(secret), AT, revoked_at=AT))
    store.create(StoredToken("copy-c", Role.ADMIN, digest(secret), AT))
    found = cache.lookup(digest(secret))
    assert found is not None and found.name == "copy-b"


def _caller(authenticator: Authenticator, authorization: str | None) -> Caller:
    headers = {} if authorization is None else {"authorization": authorization}
    return authenticator.caller(headers)


def test_each_kind_of_bad_token_is_told_without_the_token(
    store: MemoryTokenStore, cache: TokenCache
) -> None:
    environment = "the-environments-token"
    checks = Authenticator(environment, cache)
    viewer = made(store, "reader", Role.VIEWER)
    revoked = made(store, "gone")
    store.revoke("gone", AT, "alice")
    assert _caller(checks, f"Bearer {environment}") == Caller(
        "BILLING_TOKEN", Role.ADMIN, "environment token"
    )
    assert _caller(checks, f"bearer  {viewer} ") == Caller("reader", Role.VIEWER)
    told = {
        None: ("invalid_request", "is missing"),
        f"Basic {viewer}": ("invalid_request", "holds no bearer token"),
        viewer: ("invalid_request", "holds no bearer token"),  # the scheme left out
        "Bearer ": ("invalid_token", "it is empty"),
        "Bearer a b": ("invalid_token", "characters no bearer token has"),
        f"Bearer {viewer}é": ("invalid_token", "characters no bearer token has"),
        f"Bearer {viewer[:-1]}": ("invalid_token", "46: was it cut or padded"),
        f"Bearer {viewer}=": ("invalid_token", "46: was it cut or padded"),
        "Bearer " + "x" * 5000: ("invalid_token", "over 4096"),
        f"Bearer {new_token()}": ("invalid_token", "not known here"),
        f"Bearer {revoked}": ("invalid_token", "revoked (the token 'gone', at"),
    }
    for authorization, (code, words) in told.items():
        with pytest.raises(Unauthenticated) as refused:
            _caller(checks, authorization)
        assert refused.value.code == code, authorization
        assert words in str(refused.value), authorization
        assert "BILLING_TOKEN" in str(refused.value)
        for secret in (viewer, revoked, viewer[:-1], viewer[3:20]):
            assert secret not in str(refused.value)


def test_without_a_token_or_a_store_anybody_is_an_admin() -> None:
    caller = Authenticator(None, None).caller({})
    assert (caller.role, caller.via) == (Role.ADMIN, "no auth")


def test_an_environment_token_of_a_named_tokens_form_is_still_taken() -> None:
    odd = "bt_short"
    assert _caller(Authenticator(odd, None), f"Bearer {odd}").name == "BILLING_TOKEN"


def test_a_revoked_named_token_is_refused_though_billing_token_holds_it_too(
    store: MemoryTokenStore, cache: TokenCache, clock: Clock
) -> None:
    """`make up` keeps local-admin's token in .state/billing-token, and the docs export it
    as BILLING_TOKEN: functions started from that shell take it as their environment's.
    Revoked, it is refused all the same, and while it is not it is called by its name."""
    secret = made(store, "local-admin", Role.ADMIN)
    checks = Authenticator(secret, cache)
    assert _caller(checks, f"Bearer {secret}") == Caller("local-admin", Role.ADMIN)
    store.revoke("local-admin", AT, "alice")
    clock.now += 30
    with pytest.raises(Unauthenticated, match="revoked"):
        _caller(checks, f"Bearer {secret}")
    # A store that cannot be read: BILLING_TOKEN is still checked without it.
    store.down = True
    clock.now += 30
    assert _caller(checks, f"Bearer {secret}").name == "BILLING_TOKEN"


def test_every_token_is_compared_in_constant_time(
    store: MemoryTokenStore, cache: TokenCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[tuple[str, str]] = []
    constant_time = hmac.compare_digest

    def compare(a: str, b: str) -> bool:
        compared.append((a, b))
        return constant_time(a, b)

    monkeypatch.setattr(hmac, "compare_digest", compare)
    checks = Authenticator("the-environments-token", cache)
    secret = made(store, "ci")
    assert _caller(checks, f"Bearer {secret}").name == "ci"
    # The environment's token and the named token's record: digests, never the tokens.
    assert compared == [
        (digest(secret), digest("the-environments-token")),
        (digest(secret), digest(secret)),
    ]
