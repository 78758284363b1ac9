"""Who may do what: the roles an operation declares it needs (``functions/http/operation.py``),
the caller a request's credentials name, and the named tokens' own words: how one is made,
what is kept of it (its SHA-256 digest, never the token) and how its name is spelled.

The roles go up: a ``viewer`` reads runs, bills, customers, the schedule and the books; an
``operator`` may also start, retry and cancel runs; an ``admin`` may also create, change and
import customers and manage the tokens. The runtime checks a request's bearer token and
yields a ``Caller`` (``runtime/auth.py``); an operation's handler may be given it
(``Operation.caller``), so that what it does can name who asked.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal


class Role(StrEnum):
    """What a caller may do: each role may do what the ones before it may, and more."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, needed: Role) -> bool:
        """Whether this role may do what ``needed`` may."""
        return self.rank >= needed.rank

    @property
    def or_above(self) -> str:
        """``operator or above (operator, admin)``; ``admin`` alone."""
        allowed = [role.value for role in Role if role.allows(self)]
        return self.value if len(allowed) == 1 else f"{self} or above ({', '.join(allowed)})"


# A role as a body or an answer spells it (the document's enum).
RoleName = Literal["viewer", "operator", "admin"]
ROLE_NAMES: tuple[RoleName, ...] = ("viewer", "operator", "admin")
assert tuple(role.value for role in Role) == ROLE_NAMES

# How a caller was known: a named token, the BILLING_TOKEN of the environment, a JWT of
# the OpenID Connect issuer (OIDC_ISSUER), or nobody when the function runs without auth
# (local development).
NAMED_TOKEN = "named token"
ENVIRONMENT_TOKEN = "environment token"
OIDC = "oidc"
NO_AUTH = "no auth"


@dataclass(frozen=True)
class Caller:
    """Who sent a request, as its credentials say: a token's name (or a JWT's subject),
    the role it has, and how it was known. Never the credential itself."""

    name: str
    role: Role
    via: str = NAMED_TOKEN

    def allows(self, needed: Role) -> bool:
        return self.role.allows(needed)


# The caller of a function that runs without auth: anybody may do anything.
ANYBODY = Caller("anonymous", Role.ADMIN, NO_AUTH)

# -- named tokens -------------------------------------------------------------------------

# A named token: the prefix (which a secret scanner and the log formatter recognise), then
# 32 random bytes in base64url, 43 characters.
TOKEN_PREFIX = "bt_"
_TOKEN_BYTES = 32
TOKEN_LENGTH = len(TOKEN_PREFIX) + 43
NAMED_TOKEN_PATTERN = re.compile(rf"{TOKEN_PREFIX}[A-Za-z0-9_-]{{43}}")
# What the log formatter blanks wherever it stands in a line: a named token, whole or cut
# (not a word that ends in "bt_", such as "debt_").
TOKEN_IN_TEXT = re.compile(rf"(?<![A-Za-z0-9]){TOKEN_PREFIX}[A-Za-z0-9_-]{{20,}}")

# A JWT in its compact form: three base64url parts (the last empty when unsigned). Its
# header's JSON starts `{"`, `eyJ` in base64url: the log formatter blanks anything of
# that form wherever it stands in a line, a JWT whole or cut after its second dot.
JWT_PATTERN = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
JWT_PREFIX = "eyJ"
JWT_IN_TEXT = re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
BLANKED = "***"


def blanked(text: str, secrets: Sequence[str] = ()) -> str:
    """``text`` without ``secrets`` (the environment's tokens), nor anything of a named
    token's or a JWT's form: what the log formatter writes, and the audit keeps."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, BLANKED)
    if TOKEN_PREFIX in text:
        text = TOKEN_IN_TEXT.sub(TOKEN_PREFIX + BLANKED, text)
    if JWT_PREFIX in text:
        text = JWT_IN_TEXT.sub(JWT_PREFIX + BLANKED, text)
    return text


def jwt_shaped(credential: str) -> bool:
    """Whether a bearer credential has a JWT's form (not whether it is one)."""
    return JWT_PATTERN.fullmatch(credential) is not None


# A bearer credential as RFC 6750 spells it (b64token), and the longest one looked at.
_BEARER_CREDENTIAL = re.compile(r"[A-Za-z0-9._~+/-]+=*")
MAX_CREDENTIAL = 4096

# A token's name: lower-case letters, digits and . _ - inside, 1 to 64 characters, so that
# it stands in an S3 key as it is, and no two names differ by case alone. BILLING_TOKEN,
# the environment's token, can never be one.
MAX_NAME = 64
NAME_PATTERN = re.compile(r"[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?")
NAME_RULE = (
    f"1 to {MAX_NAME} lower-case letters, digits, '.', '_' or '-', starting and ending with"
    " a letter or digit, such as ci-deploy"
)


def new_token() -> str:
    """A fresh named token: ``bt_`` and 256 random bits."""
    return TOKEN_PREFIX + secrets.token_urlsafe(_TOKEN_BYTES)


def digest(token: str) -> str:
    """What is kept of a token: its SHA-256, in hex. A token is 256 random bits, so a digest
    without salt or stretching is enough (as code hosts keep theirs)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def malformed(credential: str) -> str | None:
    """What is wrong with the form of a bearer credential (``it is empty``), in words that
    do not repeat it; None if it is well formed (known or not)."""
    if not credential:
        return "it is empty"
    if len(credential) > MAX_CREDENTIAL:
        return f"it is {len(credential)} characters long, over {MAX_CREDENTIAL}"
    if _BEARER_CREDENTIAL.fullmatch(credential) is None:
        return "it holds characters no bearer token has (RFC 6750's b64token)"
    if credential.startswith(TOKEN_PREFIX) and len(credential) != TOKEN_LENGTH:
        return (
            f"it starts as a named token but has {len(credential)} characters, not"
            f" {TOKEN_LENGTH}: was it cut or padded when copied?"
        )
    return None
