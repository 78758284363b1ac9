"""The JWTs of an OpenID Connect issuer (``OIDC_ISSUER``) as bearer tokens.

``JwksKeys`` holds the issuer's public keys, its JWKS, read over HTTP (from
``OIDC_JWKS_URL``, or the ``jwks_uri`` its discovery document names) and kept: read again
once ``KEYS_MAX_AGE_S`` passed, or when a token names a key it does not hold, at most every
``UNKNOWN_KEY_REFRESH_S`` (so a flood of forged key ids costs one read in that long).
``JwtVerifier`` checks a JWT with them through joserfc: an asymmetric signature by a key
the issuer publishes (never ``alg: none``, never an HMAC such as HS256, which would let a
public key sign), then ``iss``, ``aud``, ``exp``, ``nbf`` and ``iat`` (with ``LEEWAY_S`` for
clocks apart), ``sub`` as the caller's name, and the role claim. Each refusal says which
check failed, never repeating the token (``Unauthenticated``: a 401); a JWT that passes
every check but names no role is a 403 (``NoRole``); keys that cannot be read, a 503
(``IssuerUnavailable``).
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import threading
import time
import unicodedata
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    ExpiredTokenError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import Key, import_key

from functions.access import OIDC, ROLE_NAMES, Caller, Role
from functions.errors import IssuerUnavailable
from runtime.auth import NoRole, Unauthenticated

log = logging.getLogger(__name__)

# The signatures taken: an issuer's private key signs, its published public key verifies.
ACCEPTED_ALGORITHMS = (
    *("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"),
    *("ES256", "ES384", "ES512", "EdDSA"),
)
_KEY_TYPES = ("RSA", "EC", "OKP")
# How far apart the issuer's clock and ours may be, for exp, nbf and iat.
LEEWAY_S = 30
# The keys are read again at least this often (a key the issuer withdrew is refused within
# this long), and on a key id they do not hold, at most this often.
KEYS_MAX_AGE_S = 600.0
UNKNOWN_KEY_REFRESH_S = 5.0
FETCH_TIMEOUT_S = 5.0
_MAX_DOCUMENT = 1_000_000
MAX_SUBJECT = 255
# Control characters (Cc), and those a log viewer takes as a line's end or that change or
# hide how a name reads: U+2028 and U+2029, the bidi overrides, zero-width characters (Cf).
_INVISIBLE = ("Cc", "Cf", "Zl", "Zp")
# A header's value repeated in a refusal only if it is this plain and short.
_PLAIN = re.compile(r"[A-Za-z0-9._:+-]{1,64}")

Fetch = Callable[[str], Mapping[str, Any]]


class _HttpRedirectsOnly(urllib.request.HTTPRedirectHandler):
    """urllib's redirects, but only to http(s): urllib itself follows one to ftp:."""

    def redirect_request(
        self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> urllib.request.Request | None:
        if not newurl.startswith(("https://", "http://")):
            raise urllib.error.HTTPError(
                newurl, code, f"redirected to {newurl}, not an http(s) address", headers, fp
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_HttpRedirectsOnly)


def fetch_json(url: str) -> Mapping[str, Any]:
    """The JSON object at ``url``; ``IssuerUnavailable`` if it cannot be read in time."""
    if not url.startswith(("https://", "http://")):  # never file: or ftp:
        raise IssuerUnavailable(f"{url} is not an http(s) address")
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with _OPENER.open(request, timeout=FETCH_TIMEOUT_S) as response:
            body = response.read(_MAX_DOCUMENT + 1)
    # URLError, HTTPError and timeouts are OSErrors; an answer that is not HTTP, an
    # HTTPException.
    except (OSError, ValueError, http.client.HTTPException) as exc:
        raise IssuerUnavailable(f"{url} cannot be read: {exc}") from None
    if len(body) > _MAX_DOCUMENT:
        raise IssuerUnavailable(f"{url} answered over {_MAX_DOCUMENT} bytes")
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):  # nested deeper than the parser goes
        raise IssuerUnavailable(f"{url} answered something other than JSON") from None
    if not isinstance(document, dict):
        raise IssuerUnavailable(f"{url} answered JSON that is not an object")
    return document


class JwksKeys:
    """The signing keys ``issuer`` publishes, by key id, read through ``fetch`` from
    ``jwks_url`` (None: the ``jwks_uri`` of its discovery document) and kept, ``clock``
    a monotonic clock in seconds."""

    def __init__(
        self,
        issuer: str,
        jwks_url: str | None = None,
        fetch: Fetch = fetch_json,
        clock: Callable[[], float] = time.monotonic,
        max_age_s: float = KEYS_MAX_AGE_S,
        unknown_key_refresh_s: float = UNKNOWN_KEY_REFRESH_S,
    ) -> None:
        self.issuer = issuer
        self.jwks_url = jwks_url
        self.fetch = fetch
        self.clock = clock
        self.max_age_s = max_age_s
        self.unknown_key_refresh_s = unknown_key_refresh_s
        self._keys: list[Key] = []
        self._read_at: float | None = None
        self._tried_at: float | None = None
        self._failure: IssuerUnavailable | None = None
        self._lock = threading.Lock()

    def key(self, kid: str | None) -> Key | None:
        """The key of id ``kid`` (None: the issuer's only key), or None if the issuer does
        not publish it; ``IssuerUnavailable`` if the keys cannot be read when they must."""
        found = self._find(self._current(self.max_age_s), kid)
        if found is None:
            found = self._find(self._current(self.unknown_key_refresh_s), kid)
        return found

    @staticmethod
    def _find(keys: list[Key], kid: str | None) -> Key | None:
        if kid is None:
            return keys[0] if len(keys) == 1 else None
        return next((key for key in keys if key.kid == kid), None)

    def _current(self, max_age_s: float) -> list[Key]:
        read_at, keys = self._read_at, self._keys  # set keys first, read_at last
        if read_at is not None and self.clock() - read_at < max_age_s:
            return keys  # never waiting behind a read a forged key id started
        with self._lock:  # one read at a time; the others wait for what it reads
            now = self.clock()
            if self._read_at is not None and now - self._read_at < max_age_s:
                return self._keys
            if (
                self._failure is not None
                and self._tried_at is not None
                and now - self._tried_at < self.unknown_key_refresh_s
            ):
                raise self._failure  # tried a moment ago: not again yet
            self._tried_at = now
            try:
                keys = self._read()
            except IssuerUnavailable as exc:
                self._failure = exc
                raise
            self._keys = keys
            self._read_at, self._failure = now, None
            return keys

    def _read(self) -> list[Key]:
        url = self.jwks_url or self._discover()
        entries = self.fetch(url).get("keys")
        if not isinstance(entries, list):
            raise IssuerUnavailable(f"{url} holds no list of keys (`keys`)")
        keys = []
        for entry in entries:
            if not isinstance(entry, dict) or entry.get("kty") not in _KEY_TYPES:
                continue  # a symmetric key (oct) never verifies here
            if entry.get("use", "sig") != "sig":
                continue
            try:
                keys.append(import_key(entry))
            except (JoseError, ValueError, TypeError) as exc:
                log.warning("a key of %s cannot be read, and is skipped: %s", url, exc)
        log.info("read %d signing key(s) of %s from %s", len(keys), self.issuer, url)
        return keys

    def _discover(self) -> str:
        """The ``jwks_uri`` of the issuer's discovery document, kept once read."""
        url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        document = self.fetch(url)
        if document.get("issuer") != self.issuer:
            raise IssuerUnavailable(
                f"{url} names the issuer {_shown(document.get('issuer'))}, not"
                f" {self.issuer!r} (OIDC_ISSUER must be the issuer exactly)"
            )
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri:
            raise IssuerUnavailable(f"{url} names no `jwks_uri`; set OIDC_JWKS_URL")
        self.jwks_url = jwks_uri
        return jwks_uri


@dataclass
class JwtVerifier:
    """Whether a JWT is the issuer's, for ``audience``, and who it names with which role:
    ``role_claim`` (a claim's name, or a dotted path into an object), its values read after
    ``role_prefix``. ``now``: the time, in seconds since the epoch."""

    issuer: str
    audience: str
    role_claim: str
    keys: JwksKeys
    role_prefix: str = ""
    now: Callable[[], float] = time.time
    leeway_s: int = LEEWAY_S

    def caller(self, token: str) -> Caller:
        """The caller ``token`` names; ``Unauthenticated`` saying which check it failed,
        ``NoRole`` if it names no role, ``IssuerUnavailable`` if the keys cannot be read."""
        header = self._header(token)
        alg, kid = header.get("alg"), header.get("kid")
        if not isinstance(alg, str) or (kid is not None and not isinstance(kid, str)):
            raise self._refusal("its header's `alg` or `kid` is not a string")
        if alg.lower() == "none":
            raise self._refusal("it is unsigned (alg none), which is never accepted")
        if alg not in ACCEPTED_ALGORITHMS:
            raise self._refusal(
                f"it is signed with {_plain(alg)}; only the issuer's public keys verify here"
                f" ({', '.join(ACCEPTED_ALGORITHMS)}), never a shared secret such as HS256"
            )
        key = self.keys.key(kid)
        which = "only key" if kid is None else f"key {_plain(kid)}"
        if key is None:
            named = "it names no key id (kid)" if kid is None else which
            raise self._refusal(f"it is signed by a key the issuer does not publish ({named})")
        if key.alg is not None and key.alg != alg:
            raise self._refusal(f"it is signed with {alg}; the issuer's {which} is for {key.alg}")
        try:
            claims = jwt.decode(token, key, algorithms=[alg]).claims
        except BadSignatureError:
            raise self._refusal(f"its signature fails with the issuer's {which}") from None
        except JoseError as exc:
            # The error's code alone: its words may repeat what the sender wrote.
            why = exc.error if _PLAIN.fullmatch(exc.error or "") else type(exc).__name__
            raise self._refusal(f"it cannot be verified with the issuer's {which}: {why}") from None
        self._check(claims)
        return Caller(self._subject(claims), self._role(claims), OIDC)

    def _refusal(self, why: str) -> Unauthenticated:
        return Unauthenticated(
            f"the bearer token was not accepted: {why}; send a JWT of {self.issuer} for"
            f" {self.audience}, a named token (`billing tokens add`) or the BILLING_TOKEN the"
            " functions run with"
        )

    def _header(self, token: str) -> Mapping[str, Any]:
        try:
            return jws.extract_compact(token.encode()).headers()
        except (JoseError, ValueError, TypeError):
            raise self._refusal("it is shaped as a JWT, but its header cannot be read") from None

    def _check(self, claims: Mapping[str, Any]) -> None:
        registry = jwt.JWTClaimsRegistry(
            now=lambda: int(self.now()),
            leeway=self.leeway_s,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.audience},
            exp={"essential": True},
            sub={"essential": True},
        )
        try:
            registry.validate(dict(claims))
        except ExpiredTokenError:
            raise self._refusal(f"it expired at {_time(claims['exp'])}") from None
        except MissingClaimError as exc:
            raise self._refusal(f"it has no {exc.claim.replace(',', ', ')} claim") from None
        except ClaimError as exc:
            raise self._refusal(self._invalid(exc.claim, claims.get(exc.claim))) from None

    def _invalid(self, claim: str, value: object) -> str:
        if claim == "iss":
            return f"its issuer is {_shown(value)}, not {self.issuer!r}"
        if claim == "aud":
            return f"its audience is {_shown(value)}, not {self.audience!r}"
        if claim == "nbf" and isinstance(value, int | float):
            return f"it is not valid before {_time(value)}"
        if claim == "iat" and isinstance(value, int | float):
            return f"it says it was issued at {_time(value)}, which is still to come"
        return f"its {claim} claim is not valid ({_shown(value)})"

    def _subject(self, claims: Mapping[str, Any]) -> str:
        subject = str(claims["sub"])
        if len(subject) > MAX_SUBJECT:
            raise self._refusal(f"its sub is {len(subject)} characters, over {MAX_SUBJECT}")
        if len(subject.encode()) > MAX_SUBJECT:  # the audit's S3 keys hold it, encoded
            size = len(subject.encode())
            raise self._refusal(f"its sub is {size} bytes in UTF-8, over {MAX_SUBJECT}")
        if any(unicodedata.category(char) in _INVISIBLE for char in subject):
            raise self._refusal("its subject (sub) holds control characters")
        return subject

    def _role(self, claims: Mapping[str, Any]) -> Role:
        """The highest role the role claim names; ``NoRole`` if it names none."""
        value = _claim(claims, self.role_claim)
        values = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        prefix = self.role_prefix
        roles = [
            Role(named[len(prefix) :])
            for named in values
            if isinstance(named, str)
            and named.startswith(prefix)
            and named[len(prefix) :] in ROLE_NAMES
        ]
        if roles:
            return max(roles, key=lambda role: role.rank)
        held = "is absent" if value is None else f"holds {_shown(value)}"
        names = ", ".join(f"{prefix}{name}" for name in ROLE_NAMES)
        raise NoRole(
            f"the JWT of {_shown(claims['sub'])} was accepted, but it names no role: its claim"
            f" {self.role_claim!r} {held}, none of {names}. Ask the issuer's admin to give it"
            " one (OIDC_ROLE_CLAIM says which claim is read)"
        )


def _claim(claims: Mapping[str, Any], path: str) -> object:
    """The claim ``path`` names: a claim of that very name (``cognito:groups``,
    ``https://example.com/roles``), else the dotted path into objects
    (``realm_access.roles``); None if there is none."""
    if path in claims:
        return claims[path]
    value: object = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _time(seconds: float) -> str:
    try:
        return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, ValueError, OSError):
        return f"{seconds} s after 1970"


def _plain(value: str) -> str:
    """A header's value, repeated only if plain (it is the sender's)."""
    return repr(value) if _PLAIN.fullmatch(value) else "a value not shown"


def _shown(value: object) -> str:
    """A claim's value as a refusal shows it: quoted, escaped, at most 100 characters."""
    shown = json.dumps(value, ensure_ascii=True, default=str)
    return shown if len(shown) <= 100 else shown[:97] + "..."
