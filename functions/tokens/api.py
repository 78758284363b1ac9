"""The coordinator's token operations, each declared once below beside its handler
(``functions/http/operation.py``), admin's only but the first:

- ``GET /whoami``: the caller, as the request's token names it (its name, role and how it
  was known), for any role: what the console shows, and how it knows what to leave out

- ``POST /tokens {"name": "ci-deploy", "role": "operator"}``: 201 with the token, shown
  this once (only its SHA-256 digest is kept); 409 if the name is taken, by a token revoked
  or not: a name is never given to another token
- ``GET /tokens[?after=&limit=]``: the tokens, in name order, a page at a time: their
  names, roles, who made them when, whether and when they were revoked; never a token nor
  its digest
- ``POST /tokens/<name>/revoke``: the token is refused by every HTTP function within 30 s
  (their caches, ``runtime/auth.py``); revoked again, the same answer

Without a token store (``TOKENS_BUCKET`` unset) they answer 501: the function knows the
environment's ``BILLING_TOKEN`` alone.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal, NotRequired
from urllib.parse import urlencode

from typing_extensions import TypedDict

from functions.access import (
    MAX_NAME,
    NAME_PATTERN,
    NAME_RULE,
    ROLE_NAMES,
    Caller,
    Role,
    RoleName,
    digest,
    new_token,
)
from functions.context import iso_millis
from functions.errors import InvalidRequest, NotFound
from functions.http.bodies import Body, Checked
from functions.http.operation import Api, Paged, Parameters, Reply
from functions.http.parameters import Text, WholeNumber
from functions.http.problems import problem
from functions.http.web import HttpResponse, closed, documented
from functions.storage.base import StoredToken, TokenStore

DEFAULT_PAGE = 50
MOST_A_PAGE = 100
REFRESH_S = 30  # how soon every function sees a token made or revoked (runtime/auth.py)
NO_STORE = Reply("this function keeps no named tokens (TOKENS_BUCKET is unset)")
S3_DOWN = Reply("S3 is unavailable")
API = Api("Tokens", "The named tokens the HTTP functions take, and their roles.")

TOKEN_NAME = Text(
    NAME_PATTERN,
    f"{{name}}={{value}} is not a token name ({NAME_RULE})",
    MAX_NAME,
    least=1,
    examples=("ci-deploy",),
)
TokenName = Annotated[str, TOKEN_NAME]


@dataclass(frozen=True)
class TokenAdmin:
    """What the token operations are given: the store (None: there is none), the time, and
    what to tell when a token was made or revoked (the process's own cache reads the store
    again at once; the other processes' within their refresh)."""

    store: TokenStore | None
    clock: Callable[[], datetime]
    changed: Callable[[], None] = lambda: None

    def kept(self) -> TokenStore:
        if self.store is None:
            raise _NoStore
        return self.store


class _NoStore(Exception):
    """The function runs without TOKENS_BUCKET."""


def _name(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidRequest(f"must be a string, {NAME_RULE}")
    if len(value) > MAX_NAME or NAME_PATTERN.fullmatch(value) is None:
        raise InvalidRequest(f"is {value[:80]!r}, which is not a token name ({NAME_RULE})")
    return value


def _role(value: Any) -> Role:
    if not isinstance(value, str) or value not in ROLE_NAMES:
        shown = repr(value)[:80]
        raise InvalidRequest(f"is {shown}; a role is one of {', '.join(ROLE_NAMES)}")
    return Role(value)


@closed
class NewToken(TypedDict):
    """A token to make: its name, and what it may do."""

    name: Annotated[
        str,
        Checked(
            _name,
            {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_NAME,
                "pattern": f"^{NAME_PATTERN.pattern}$",
                "examples": ["ci-deploy"],
            },
        ),
    ]
    """the token's name, which every log line about what it did will carry: never given to
    another token, even once this one is revoked"""
    role: Annotated[RoleName, Checked(_role, {"enum": list(ROLE_NAMES), "examples": ["operator"]})]
    """viewer: reads; operator: also starts, retries and cancels runs; admin: also changes
    customers and manages tokens"""


USAGE = 'POST a JSON body like {"name": "ci-deploy", "role": "operator"}'


@documented
class TokenAnswer(TypedDict):
    """A named token as kept: never the token itself, nor its digest."""

    name: str
    role: RoleName
    state: Literal["active", "revoked"]
    createdAt: str
    createdBy: str | None
    """the caller that made it (a token's name)"""
    revokedAt: NotRequired[str]
    revokedBy: NotRequired[str | None]


@documented
class NewTokenAnswer(TokenAnswer):
    """A token just made, with the token: shown this once, never again."""

    token: str
    """the bearer token (`Authorization: Bearer <token>`): keep it now, it is not kept here"""


@documented
class TokenList(TypedDict):
    tokens: list[TokenAnswer]
    next: str | None
    """the cursor of the next page (its `after`), null on the last"""


@documented
class WhoAmI(TypedDict):
    """The caller a request's credentials name: never the credential itself."""

    name: str
    """the token's name (`BILLING_TOKEN` for the environment's; a JWT's subject, `sub`;
    `anonymous` without auth)"""
    role: RoleName
    """what it may do: viewer reads; operator also starts, retries and cancels runs; admin
    also changes customers and manages tokens"""
    via: str
    """how it was known: `named token`, `environment token`, `oidc` (an OpenID Connect
    issuer's JWT), or `no auth`"""


@API.operation(
    "GET",
    "/whoami",
    "whoAmI",
    role=Role.VIEWER,
    caller=True,
    summary="Who the request's token names: its name, its role, and how it was known",
    description="What a client may show and offer: the console hides what the role may not"
    " do (the operations refuse it regardless). Without auth: `anonymous`, an admin.",
    replies={200: Reply("the caller: its name, role and how it was known", WhoAmI)},
)
def who_am_i(_admin: TokenAdmin, caller: Caller) -> HttpResponse[WhoAmI]:
    return HttpResponse(200, WhoAmI(name=caller.name, role=caller.role.value, via=caller.via))


def _answer(token: StoredToken) -> TokenAnswer:
    answer = TokenAnswer(
        name=token.name,
        role=token.role.value,
        state="revoked" if token.revoked else "active",
        createdAt=token.created_at,
        createdBy=token.created_by,
    )
    if token.revoked_at is not None:
        answer["revokedAt"] = token.revoked_at
        answer["revokedBy"] = token.revoked_by
    return answer


def _without_store(handle: Callable[..., HttpResponse[Any]]) -> Callable[..., HttpResponse[Any]]:
    """A 501 where the function keeps no tokens."""

    @functools.wraps(handle)
    def handled(*args: Any, **kwargs: Any) -> HttpResponse[Any]:
        try:
            return handle(*args, **kwargs)
        except _NoStore:
            return problem(
                501,
                "this function keeps no named tokens: TOKENS_BUCKET is unset, so it takes"
                " BILLING_TOKEN alone; set TOKENS_BUCKET (a private bucket) to manage tokens",
            )

    return handled


@API.operation(
    "POST",
    "/tokens",
    "createToken",
    role=Role.ADMIN,
    caller=True,
    summary="Make a named token of a role; the token is in the answer, this once",
    description="Only the token's SHA-256 digest is kept: the token cannot be shown again."
    f" Every HTTP function takes it within {REFRESH_S} s. A name is never given to another"
    " token, even once its token is revoked.",
    body=Body(NewToken, usage=USAGE),
    replies={
        201: Reply(
            "the token, with its name and role; keep it now",
            NewTokenAnswer,
            headers={"Cache-Control": {"schema": {"enum": ["no-store"]}}},
        ),
        400: Reply("not a token name, or not a role"),
        409: Reply("the name is taken, by a token revoked or not"),
        501: NO_STORE,
        503: S3_DOWN,
    },
)
@_without_store
def create_token(
    admin: TokenAdmin, body: dict[str, Any], caller: Caller
) -> HttpResponse[NewTokenAnswer]:
    store = admin.kept()
    token = new_token()
    name, role = body["name"], Role(body["role"])
    kept = StoredToken(name, role, digest(token), iso_millis(admin.clock()), caller.name)
    if not store.create(kept):
        raise InvalidRequest(_taken(name, store.get(name)), status=409)
    admin.changed()
    answer = NewTokenAnswer(**_answer(kept), token=token)
    return HttpResponse(201, answer, {"Cache-Control": "no-store"})


def _taken(name: str, holder: StoredToken | None) -> str:
    never = "a name is never given to another token, so that what names it stays about one"
    if holder is not None and holder.revoked:
        return (
            f"the token named {name!r} was revoked at {holder.revoked_at}; {never}: choose"
            " another name"
        )
    made = f" ({holder.role}, made at {holder.created_at})" if holder is not None else ""
    return (
        f"there is a token named {name!r} already{made}; {never}: choose another, such as"
        f" '{name[: MAX_NAME - 2]}-2', and revoke {name!r} once its users have the new one"
    )


class TokensQuery(Paged[TokenName]):
    after: TokenName | None = None
    """the cursor: the last name of the page before (`next`)"""
    limit: Annotated[int, WholeNumber(1, MOST_A_PAGE)] = DEFAULT_PAGE
    """tokens a page"""


@API.operation(
    "GET",
    "/tokens",
    "listTokens",
    role=Role.ADMIN,
    summary="The named tokens, a page at a time: names, roles, made and revoked when",
    query=TokensQuery,
    replies={
        200: Reply(
            "a page of tokens in name order; `next` is the cursor of the next",
            TokenList,
            headers={"Link": {"schema": {"type": "string"}}},
        ),
        400: Reply("a bad cursor or limit"),
        501: NO_STORE,
        503: S3_DOWN,
    },
)
@_without_store
def list_tokens(admin: TokenAdmin, query: TokensQuery) -> HttpResponse[TokenList]:
    page = admin.kept().page(query.after or "", query.limit)
    headers = {}
    if page.next_after is not None:
        following = urlencode({"after": page.next_after, "limit": query.limit})
        headers["Link"] = f'</tokens?{following}>; rel="next"'
    answer = TokenList(tokens=[_answer(token) for token in page.items], next=page.next_after)
    return HttpResponse(200, answer, headers)


class TokenPath(Parameters):
    name: TokenName


@API.operation(
    "POST",
    "/tokens/{name}/revoke",
    "revokeToken",
    role=Role.ADMIN,
    caller=True,
    summary=f"Revoke a named token: every HTTP function refuses it within {REFRESH_S} s",
    description="Its record stays, marked revoked, and its name is not given to another"
    " token. Revoked again: the same answer.",
    path_parameters=TokenPath,
    replies={
        200: Reply(
            "the token, revoked (`Idempotent-Replayed: true`: revoked before, when and by"
            " whom it says)",
            TokenAnswer,
            headers={"Idempotent-Replayed": {"schema": {"enum": ["true"]}}},
        ),
        400: Reply("not a token name"),
        404: Reply("there is no token of that name"),
        501: NO_STORE,
        503: S3_DOWN,
    },
)
@_without_store
def revoke_token(admin: TokenAdmin, path: TokenPath, caller: Caller) -> HttpResponse[TokenAnswer]:
    done = admin.kept().revoke(path.name, iso_millis(admin.clock()), caller.name)
    if done is None:
        raise NotFound(f"there is no token named {path.name!r}; `billing tokens ls` lists them")
    revoked, mine = done
    admin.changed()
    return HttpResponse(200, _answer(revoked), {} if mine else {"Idempotent-Replayed": "true"})
