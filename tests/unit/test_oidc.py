"""An OpenID Connect issuer's JWTs as bearer tokens (``runtime/oidc.py``): what is taken,
what is refused and how the refusal says which check failed (never repeating the token),
how the role is read from its claim, and how often the issuer's keys are read. The keys
are made in-process and their JWKS handed over by a fetch of the test's own: no network."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import pytest
from cfnlint.decode import decode
from joserfc.jwk import RSAKey

from functions.access import OIDC, Caller, Role
from functions.errors import ConfigurationError, IssuerUnavailable
from runtime.auth import NoRole, Unauthenticated
from runtime.config import REPO, FunctionSettings
from runtime.oidc import JwksKeys, JwtVerifier
from tests.helpers.oidc import AUDIENCE, SUBJECT, CountingFetch, Issuer
from tests.unit.harness import TOKEN, Harness, client


@dataclass
class Clock:
    """A monotonic clock the test moves."""

    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


def verifier(
    issuer: Issuer,
    fetch: Any = None,
    clock: Clock | None = None,
    role_claim: str = "roles",
    role_prefix: str = "",
) -> JwtVerifier:
    keys = JwksKeys(issuer.issuer, fetch=fetch or CountingFetch(issuer), clock=clock or Clock())
    return JwtVerifier(issuer.issuer, AUDIENCE, role_claim, keys, role_prefix)


def refusal(checker: JwtVerifier, token: str) -> str:
    """The 401's detail of ``token``, which never holds it, nor its signature."""
    with pytest.raises(Unauthenticated) as refused:
        checker.caller(token)
    assert not isinstance(refused.value, NoRole)
    detail = str(refused.value)
    assert token not in detail and token.split(".")[-1] not in detail.split()
    assert detail.startswith("the bearer token was not accepted: ")
    return detail


def test_a_jwt_of_the_issuer_names_its_subject_and_role(issuer: Issuer) -> None:
    checker = verifier(issuer)
    assert checker.caller(issuer.token()) == Caller(SUBJECT, Role.VIEWER, OIDC)
    assert checker.caller(issuer.token("ec-1", roles="operator")).role is Role.OPERATOR
    assert checker.caller(issuer.token(alg="PS256")).name == SUBJECT
    assert checker.caller(issuer.token(aud=["other", AUDIENCE])).name == SUBJECT
    # A clock a little behind the issuer's, or ahead of it: the leeway.
    now = int(time.time())
    assert checker.caller(issuer.token(exp=now - 10, iat=now + 10, nbf=now + 10)).name


def test_each_refusal_says_which_check_failed(issuer: Issuer) -> None:
    checker = verifier(issuer)
    now = int(time.time())
    expired = refusal(checker, issuer.token(exp=1765000000))
    assert "it expired at 2025-12-06T05:46:40Z" in expired
    assert "not valid before 2100-01-01T00:00:00Z" in refusal(checker, issuer.token(nbf=4102444800))
    assert "issued at 2100-01-01T00:00:00Z" in refusal(checker, issuer.token(iat=4102444800))
    assert "its audience is \"grafana\", not 'billing-functions'" in refusal(
        checker, issuer.token(aud="grafana")
    )
    assert f"its issuer is \"https://evil.example\", not '{issuer.issuer}'" in refusal(
        checker, issuer.token(iss="https://evil.example")
    )
    assert "it has no exp claim" in refusal(checker, issuer.token(exp=None))
    assert "it has no sub claim" in refusal(checker, issuer.token(sub=None, exp=now + 60))
    assert "sub is 256 characters, over 255" in refusal(checker, issuer.token(sub="a" * 256))
    assert "control characters" in refusal(checker, issuer.token(sub="ada\nadmin"))


def test_a_key_the_issuer_does_not_publish_is_refused(issuer: Issuer) -> None:
    checker = verifier(issuer)
    stranger = RSAKey.generate_key(2048, parameters={"kid": "rsa-9"})
    assert "signed by a key the issuer does not publish (key 'rsa-9')" in refusal(
        checker, issuer.token("rsa-9", key=stranger)
    )
    # The stranger's key under the id of one the issuer publishes.
    assert "its signature fails with the issuer's key 'rsa-1'" in refusal(
        checker, issuer.token("rsa-1", key=stranger)
    )
    # An RSA signature under the id of the issuer's EC key.
    assert "cannot be verified with the issuer's key 'ec-1'" in refusal(
        checker, issuer.token("ec-1", alg="RS256", key=issuer.keys["rsa-1"])
    )


def test_an_unsigned_jwt_and_an_hmac_with_the_public_key_are_refused(issuer: Issuer) -> None:
    checker = verifier(issuer)
    assert "unsigned (alg none), which is never accepted" in refusal(checker, issuer.unsigned())
    detail = refusal(checker, issuer.hs256_with_public_key())
    assert "it is signed with 'HS256'" in detail and "never a shared secret" in detail


@pytest.mark.parametrize(
    "token",
    ["eyJhbGciOi.eyJzdWIiOiJ4In0.c2ln", "a.b.c", "eyJbm90IGpzb24.eyJ9.x"],
)
def test_a_malformed_jwt_is_refused(issuer: Issuer, token: str) -> None:
    assert "its header cannot be read" in refusal(verifier(issuer), token)


def test_the_highest_role_the_claim_names_is_taken(issuer: Issuer) -> None:
    checker = verifier(issuer)
    assert checker.caller(issuer.token(roles=["viewer", "admin", "operator"])).role is Role.ADMIN
    assert checker.caller(issuer.token(roles=["offline_access", "operator"])).role is Role.OPERATOR
    keycloak = verifier(issuer, role_claim="realm_access.roles")
    realm = {"roles": ["default-roles-billing", "operator"]}
    assert keycloak.caller(issuer.token(roles=None, realm_access=realm)).role is Role.OPERATOR
    cognito = verifier(issuer, role_claim="cognito:groups", role_prefix="billing-")
    groups: dict[str, Any] = {"cognito:groups": ["admin", "billing-viewer"]}
    assert cognito.caller(issuer.token(roles=None, **groups)).role is Role.VIEWER


@pytest.mark.parametrize(
    ("roles", "said"),
    [
        (None, "its claim 'roles' is absent"),
        (["guest", 3], """its claim 'roles' holds ["guest", 3]"""),
    ],
)
def test_a_jwt_naming_no_role_is_taken_with_none(issuer: Issuer, roles: object, said: str) -> None:
    with pytest.raises(NoRole) as refused:
        verifier(issuer).caller(issuer.token(roles=roles))
    assert said in str(refused.value) and "viewer, operator, admin" in str(refused.value)


def test_a_key_id_not_known_reads_the_keys_again_at_most_every_5_s(issuer: Issuer) -> None:
    fetch, clock = CountingFetch(issuer), Clock()
    checker = verifier(issuer, fetch, clock)
    checker.caller(issuer.token())
    assert len(fetch.urls) == 2  # the discovery document, then the keys
    assert fetch.urls[0] == issuer.issuer + "/.well-known/openid-configuration"
    forged = [issuer.token(f"forged-{n}", key=issuer.keys["rsa-1"]) for n in range(20)]
    for token in forged:
        refusal(checker, token)
    assert len(fetch.urls) == 2  # read a moment ago
    clock.now += 5
    for token in forged:
        refusal(checker, token)
    assert len(fetch.urls) == 3  # one read for the whole flood
    # A key the issuer starts using is taken once the keys are read again.
    rotated = Issuer(issuer.issuer)
    rotated.keys = {**issuer.keys, "rsa-2": RSAKey.generate_key(2048, parameters={"kid": "rsa-2"})}
    rotated.published = ["rsa-1", "rsa-2"]
    fetch.issuer = rotated
    refusal(checker, rotated.token("rsa-2"))
    clock.now += 5
    assert checker.caller(rotated.token("rsa-2")).name == SUBJECT
    assert len(fetch.urls) == 4
    clock.now += 600  # the keys known are read again once 10 minutes old
    checker.caller(issuer.token())
    assert len(fetch.urls) == 5


def test_keys_that_cannot_be_read_are_an_outage_tried_again_at_most_every_5_s(
    issuer: Issuer,
) -> None:
    calls = []

    def unreachable(url: str) -> dict[str, Any]:
        calls.append(url)
        raise IssuerUnavailable(f"{url} cannot be read: connection refused")

    clock = Clock()
    checker = verifier(issuer, unreachable, clock)
    for _ in range(10):
        with pytest.raises(IssuerUnavailable):
            checker.caller(issuer.token())
    assert len(calls) == 1
    clock.now += 5
    with pytest.raises(IssuerUnavailable):
        checker.caller(issuer.token())
    assert len(calls) == 2


def test_keys_are_read_over_http_only(issuer: Issuer) -> None:
    keys = JwksKeys(issuer.issuer, "file:///etc/passwd")
    with pytest.raises(IssuerUnavailable, match="not an http"):
        keys.key("rsa-1")


def test_a_discovery_document_of_another_issuer_is_not_followed(issuer: Issuer) -> None:
    other = Issuer("https://sso.example.test/realms/other")
    with pytest.raises(IssuerUnavailable, match="names the issuer"):
        verifier(issuer, CountingFetch(other)).caller(issuer.token())


def test_symmetric_keys_in_the_jwks_are_never_used(issuer: Issuer) -> None:
    jwks = issuer.jwks()
    jwks["keys"].append({"kty": "oct", "kid": "hmac-1", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQ"})
    keys = JwksKeys(issuer.issuer, "https://keys.example.test", fetch=lambda _url: jwks)
    assert keys.key("hmac-1") is None and keys.key("rsa-1") is not None


def test_the_template_gives_both_http_functions_the_issuer() -> None:
    template, problems = decode(str(REPO / "infra" / "aws" / "template.yaml"))
    assert not problems and template is not None
    for name in ("CoordinatorFunction", "CrmFunction"):
        variables = template["Resources"][name]["Properties"]["Environment"]["Variables"]
        assert variables["OIDC_ISSUER"] == {"Ref": "OidcIssuer"}
        assert variables["OIDC_AUDIENCE"] == {"Ref": "OidcAudience"}
        assert variables["OIDC_ROLE_CLAIM"] == {"Ref": "OidcRoleClaim"}
    assert template["Parameters"]["OidcRoleClaim"]["Default"] == ""


def test_an_issuer_without_an_audience_is_refused_naming_it() -> None:
    with pytest.raises(ConfigurationError, match=r"OIDC_ISSUER=.* needs OIDC_AUDIENCE"):
        FunctionSettings.from_env({"OIDC_ISSUER": "https://sso.example.test"})
    settings = FunctionSettings.from_env(
        {"OIDC_ISSUER": "https://sso.example.test", "OIDC_AUDIENCE": "b", "OIDC_ROLE_CLAIM": ""}
    )
    assert settings.role_claim == "roles"


# -- through the HTTP functions -----------------------------------------------------------


def test_the_functions_answer_a_jwt_as_any_token(oidc_guarded: Harness, issuer: Issuer) -> None:
    viewer = {"Authorization": f"Bearer {issuer.token()}"}
    assert client("crm").get("/?customerId=1", headers=viewer).status_code == 200
    below = client("coordinator").post("/", json={"customerIdentifiers": ["1"]}, headers=viewer)
    assert below.status_code == 403
    assert f"the JWT of '{SUBJECT}' has the role viewer" in below.get_json()["detail"]
    assert oidc_guarded.publisher.published == []
    for token in (issuer.token(aud="grafana"), issuer.unsigned(), issuer.hs256_with_public_key()):
        answer = client("coordinator").get("/runs", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 401
        assert answer.headers["WWW-Authenticate"] == 'Bearer realm="billing", error="invalid_token"'
        assert token not in answer.get_data(as_text=True)
    roleless = client("crm").get("/", headers={"Authorization": f"Bearer {issuer.token(roles=[])}"})
    assert roleless.status_code == 403
    assert "its claim 'roles' holds []" in roleless.get_json()["detail"]
    assert 'error="insufficient_scope"' in roleless.headers["WWW-Authenticate"]
    # The tokens of before keep working beside it.
    admin = {"Authorization": f"Bearer {TOKEN}"}
    assert client("coordinator").get("/tokens", headers=admin).status_code == 200


def test_keys_that_cannot_be_read_answer_503(oidc_guarded: Harness, issuer: Issuer) -> None:
    def unreachable(url: str) -> dict[str, Any]:
        raise IssuerUnavailable(f"{url} cannot be read: timed out")

    services = oidc_guarded.services
    assert services.jwt_verifier is not None
    services.jwt_verifier.keys.fetch = unreachable
    answer = client("crm").get("/", headers={"Authorization": f"Bearer {issuer.token()}"})
    assert answer.status_code == 503
    assert "issuer's keys cannot be read" in answer.get_json()["detail"]


def test_a_jwt_is_blanked_in_every_log_line(log_lines: Any, issuer: Issuer) -> None:
    import logging

    token = issuer.token()
    logging.getLogger("test").warning("sent Authorization: Bearer %s, then %s.", token, token[:-9])
    logged = log_lines.getvalue()
    assert token.split(".")[1] not in logged and token.split(".")[2][:-9] not in logged
    assert "Bearer eyJ***, then eyJ***." in logged


def test_a_jwt_without_oidc_set_is_an_unknown_token(guarded: Harness, issuer: Issuer) -> None:
    services = guarded.services
    services.settings = replace(services.settings, oidc_issuer=None)
    answer = client("crm").get("/", headers={"Authorization": f"Bearer {issuer.token()}"})
    assert answer.status_code == 401 and "not known here" in answer.get_json()["detail"]
