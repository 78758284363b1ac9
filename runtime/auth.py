"""Who sent a request, and whether that caller may call the operation it asks for.

A request's ``Authorization: Bearer <token>`` is checked by the ``Authenticator`` of its
function's process, which yields a ``Caller`` (``functions/access.py``): its name and role,
never the token. The credentials it takes, in order:

- the environment's ``BILLING_TOKEN`` (or ``BILLING_TOKEN_FILE``'s), an admin named
  ``BILLING_TOKEN``, so that the clients of earlier versions keep working;
- a named token of the token store (``TOKENS_BUCKET``), by its SHA-256 digest, through a
  ``TokenCache`` that reads the store at most every ``REFRESH_S`` seconds, so that a
  request costs no S3 request and a token made or revoked is seen within that long, with
  no restart;
- a JWT of the OpenID Connect issuer (``OIDC_ISSUER``), a credential of a JWT's form
  handed to the ``Verifier`` (``runtime/oidc.py``), which checks it against the issuer's
  published keys and names its subject and role.

With none set, the function runs without auth, as for local development, and every caller
is ``ANYBODY``. Then the operation's declared role (``Operation.required_role``) is
compared with the caller's: 401 (``WWW-Authenticate``, RFC 6750) when the token is
missing, malformed, unknown, revoked or a JWT that fails a check, saying which but never
repeating it; 403 naming the role needed and the caller's, or, a JWT naming no role, the
claim read.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from functions.access import (
    ANYBODY,
    ENVIRONMENT_TOKEN,
    NAMED_TOKEN,
    OIDC,
    TOKEN_PREFIX,
    Caller,
    Role,
    digest,
    jwt_shaped,
    malformed,
)
from functions.errors import IssuerUnavailable, StorageUnavailable
from functions.http.operation import Operation
from functions.http.problems import forbidden, problem
from functions.http.web import HttpResponse
from functions.storage.base import StoredToken, TokenStore

log = logging.getLogger(__name__)

# How old the token set a function checks with may be. A token made or revoked anywhere is
# taken or refused everywhere within the 30 s promised (functions/tokens/api.py): this long,
# the read itself, and a margin (measured on the local stack: a CRM refused a token 30.5 s
# after its revoke was sent, with a refresh of 30 s and a poll each 0.5 s).
REFRESH_S = 25.0
# A well-formed named token the cache does not know reads the store again, at most this
# often: a token just made works everywhere within seconds, and a flood of guesses costs
# one listing in this long, not one a request.
MISS_REFRESH_S = 5.0
ENVIRONMENT_TOKEN_NAME = "BILLING_TOKEN"
REALM = 'Bearer realm="billing"'
_HOW = (
    "send `Authorization: Bearer <token>` with a named token (`billing tokens add`) or"
    " the BILLING_TOKEN the functions run with"
)


class Unauthenticated(Exception):
    """No caller: ``detail`` says why (never with the token), ``code`` is RFC 6750's."""

    def __init__(self, detail: str, code: str = "invalid_token") -> None:
        super().__init__(detail)
        self.code = code


class NoRole(Unauthenticated):
    """A credential taken, whose caller has no role (a JWT whose role claim names none):
    answered 403, ``detail`` naming the claim."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail, "insufficient_scope")


class Verifier(Protocol):
    """A check of one more kind of credential (``runtime/oidc.py``: an issuer's JWTs)."""

    def caller(self, token: str) -> Caller:
        """Who ``token`` names; ``Unauthenticated`` (or ``NoRole``) saying why not."""
        ...


class TokenCache:
    """The named tokens of ``store`` by digest, read again once ``max_age_s`` passed on
    ``clock`` (a monotonic clock in seconds), or on a miss once ``miss_refresh_s`` did."""

    def __init__(
        self,
        store: TokenStore,
        max_age_s: float = REFRESH_S,
        miss_refresh_s: float = MISS_REFRESH_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.max_age_s = max_age_s
        self.miss_refresh_s = miss_refresh_s
        self.clock = clock
        self._by_digest: dict[str, StoredToken] = {}
        self._read_at: float | None = None
        self._lock = threading.Lock()

    def lookup(self, token_digest: str, may_be_new: bool = False) -> StoredToken | None:
        """The token of this digest, revoked or not; None if the store has none (as last
        read). ``may_be_new``: read the store again if it does not know it and was last
        read ``miss_refresh_s`` ago or more."""
        found = self._find(self._tokens(self.max_age_s), token_digest)
        if found is None and may_be_new:
            found = self._find(self._tokens(self.miss_refresh_s), token_digest)
        return found

    @staticmethod
    def _find(tokens: Mapping[str, StoredToken], token_digest: str) -> StoredToken | None:
        found = tokens.get(token_digest)
        # The dict finds it by hash; the digests are then compared in constant time.
        if found is not None and hmac.compare_digest(found.digest, token_digest):
            return found
        return None

    def forget(self) -> None:
        """Read the store again at the next lookup (this process made or revoked a token)."""
        with self._lock:
            self._read_at = None

    def _tokens(self, max_age_s: float) -> Mapping[str, StoredToken]:
        read_at = self._read_at
        if read_at is not None and self.clock() - read_at < max_age_s:
            return self._by_digest
        with self._lock:  # one reader a process; the others wait for what it reads
            read_at = self._read_at
            if read_at is not None and self.clock() - read_at < max_age_s:
                return self._by_digest
            began = self.clock()  # what is read is at least as new as this
            tokens = self.store.every()  # StorageUnavailable: nothing is taken meanwhile
            by_digest: dict[str, StoredToken] = {}
            for token in tokens:  # a revoked record wins over any other of its digest
                if not (token.digest in by_digest and by_digest[token.digest].revoked):
                    by_digest[token.digest] = token
            self._by_digest, self._read_at = by_digest, began
            return by_digest


class Authenticator:
    """A function's check of bearer tokens: the environment's, the store's (``tokens``),
    and an OpenID Connect issuer's JWTs (``jwts``)."""

    def __init__(
        self,
        environment_token: str | None,
        tokens: TokenCache | None,
        jwts: Verifier | None = None,
    ) -> None:
        self._environment_digest = None if environment_token is None else digest(environment_token)
        self.tokens = tokens
        self.jwts = jwts

    @property
    def enabled(self) -> bool:
        kinds = (self._environment_digest, self.tokens, self.jwts)
        return any(kind is not None for kind in kinds)

    def caller(self, headers: Mapping[str, str]) -> Caller:
        """Who the request's bearer token names (``headers``: lower-case names); raises
        ``Unauthenticated`` saying what is wrong (``NoRole``: a JWT naming no role),
        ``StorageUnavailable`` if the store cannot be read, and ``IssuerUnavailable`` if
        the OpenID Connect issuer's keys cannot be."""
        if not self.enabled:
            return ANYBODY
        authorization = headers.get("authorization")
        if authorization is None:
            raise Unauthenticated(f"the bearer token is missing; {_HOW}", "invalid_request")
        scheme, _, offered = authorization.partition(" ")
        if scheme.lower() != "bearer":
            # Never the scheme either: a client that left it out sent its token there.
            raise Unauthenticated(
                f"the Authorization header holds no bearer token (it must start with"
                f" `Bearer `); {_HOW}",
                "invalid_request",
            )
        offered = offered.strip()
        offered_digest = digest(offered)
        if self._environment_digest is not None and hmac.compare_digest(
            offered_digest, self._environment_digest
        ):
            return self._environment_caller(offered_digest)
        wrong = malformed(offered)
        if wrong is not None:
            raise Unauthenticated(f"the bearer token was not accepted: {wrong}; {_HOW}")
        if self.jwts is not None and jwt_shaped(offered):
            return self.jwts.caller(offered)
        if self.tokens is not None:
            found = self.tokens.lookup(offered_digest, offered.startswith(TOKEN_PREFIX))
            return self._named(found)
        raise Unauthenticated(f"the bearer token was not accepted: it is not known here; {_HOW}")

    def _environment_caller(self, offered_digest: str) -> Caller:
        """The environment's token: an admin's, unless it is a named token's too (the
        local-admin's of `.state/billing-token`, exported as BILLING_TOKEN), which is then
        taken as that token, revoked or not. The store unreadable: the environment's."""
        found = None
        if self.tokens is not None:
            try:
                found = self.tokens.lookup(offered_digest)
            except StorageUnavailable:
                log.warning("the tokens cannot be read: BILLING_TOKEN is taken without them")
        if found is None:
            return Caller(ENVIRONMENT_TOKEN_NAME, Role.ADMIN, ENVIRONMENT_TOKEN)
        return self._named(found)

    @staticmethod
    def _named(found: StoredToken | None) -> Caller:
        """The caller of a named token as the store holds it; ``Unauthenticated`` if revoked
        or unknown."""
        if found is not None and found.revoked:
            raise Unauthenticated(
                f"the bearer token was not accepted: it was revoked (the token"
                f" {found.name!r}, at {found.revoked_at}); ask an admin for a new one,"
                f" and {_HOW}"
            )
        if found is not None:
            return Caller(found.name, found.role, NAMED_TOKEN)
        raise Unauthenticated(f"the bearer token was not accepted: it is not known here; {_HOW}")


def unauthorized(exc: Unauthenticated) -> HttpResponse[Any]:
    """The 401 of a request with no caller (403 of a caller with no role): RFC 6750's
    challenge, the reason in ``detail``."""
    status = 403 if isinstance(exc, NoRole) else 401
    return problem(status, str(exc), {"WWW-Authenticate": f'{REALM}, error="{exc.code}"'})


def unchecked(exc: StorageUnavailable | IssuerUnavailable) -> HttpResponse[Any]:
    """The 503 of a token that cannot be checked now: the store or the issuer's keys out
    of reach. Told to a caller not known yet: nothing of where they are."""
    if isinstance(exc, IssuerUnavailable):
        why = "the OpenID Connect issuer's keys cannot be read; try again, or use a named token"
        instead = " or BILLING_TOKEN"
    else:
        why = "the tokens cannot be read (S3 is unavailable); try again, or use BILLING_TOKEN"
        instead = ", checked without S3"
    return problem(503, f"the bearer token cannot be checked now: {why}{instead}")


def refused(caller: Caller, operation: Operation) -> HttpResponse[Any] | None:
    """A 403 unless ``caller``'s role allows ``operation``."""
    needed = operation.required_role
    if needed is None or caller.allows(needed):
        return None
    log.info(
        "%s (%s) was refused %s, which needs %s",
        caller.name,
        caller.role,
        operation.operation_id,
        needed,
    )
    if caller.via == OIDC:
        whose = f"the JWT of {caller.name!r}"
        ask = f"Ask the issuer's admin to give {caller.name!r} the role {needed}"
    else:
        whose = f"the token {caller.name!r}"
        ask = f"Ask an admin for a token of that role (`billing tokens add NAME --role {needed}`)"
    return forbidden(
        f"{operation.operation_id} ({operation.method} {operation.path}) needs a token of the"
        f" role {needed.or_above}; {whose} has the role {caller.role}. {ask}",
        needed.value,
        caller.role.value,
        {"WWW-Authenticate": f'{REALM}, error="insufficient_scope", scope="{needed}"'},
    )
