"""An OpenID Connect issuer of the test's own, its discovery document and JWKS served over
HTTP on 127.0.0.1, and an HTTP function set with OIDC_ISSUER pointing at it: the function
finds the keys as it would find a real issuer's (discovery, then ``jwks_uri``), takes a
JWT of each role as its role allows, refuses the forged and the stale with a 401 saying
which check failed, and answers 503 when the issuer cannot be reached. No Kafka, no S3:
the function's buckets are in memory and its publisher records."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from joserfc.jwk import RSAKey

from functions.http.web import HttpRequest, HttpResponse
from functions.storage.memory_bucket import MemoryBuckets
from runtime.config import FunctionSettings
from runtime.http_function import HttpFunction
from runtime.services import Services
from tests.helpers.in_process import RecordingPublisher
from tests.helpers.oidc import AUDIENCE, SUBJECT, ServedIssuer, served_issuer

RUN = {"customerIdentifiers": ["1", "2"]}


@pytest.fixture(scope="module")
def issuer() -> Iterator[ServedIssuer]:
    with served_issuer() as served:
        yield served


def coordinator(issuer: str) -> tuple[HttpFunction, RecordingPublisher]:
    """A coordinator of its own, taking ``issuer``'s JWTs alone."""
    settings = FunctionSettings(s3_endpoint_url=None, oidc_issuer=issuer, oidc_audience=AUDIENCE)
    publisher = RecordingPublisher()
    services = Services(settings, buckets=MemoryBuckets(), publisher=publisher)
    return HttpFunction("coordinator", lambda: services), publisher


def ask(
    function: HttpFunction, method: str, path: str, token: str, body: object = None
) -> HttpResponse[Any]:
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    sent = b"" if body is None else json.dumps(body).encode()
    return function(HttpRequest(method, path, headers=headers), lambda: sent)


def test_a_jwt_of_each_role_may_do_what_its_role_allows(issuer: ServedIssuer) -> None:
    function, publisher = coordinator(issuer.issuer)
    viewer, operator = issuer.token(), issuer.token("ec-1", roles=["viewer", "operator"])
    assert ask(function, "GET", "/runs", viewer).status == 200
    refused = ask(function, "POST", "/", viewer, RUN)
    assert refused.status == 403
    assert f"the JWT of '{SUBJECT}' has the role viewer" in refused.body["detail"]
    assert publisher.published == []
    started = ask(function, "POST", "/", operator, RUN)
    assert started.status == 202, started.body
    assert len(publisher.published) == 2
    assert ask(function, "GET", "/tokens", operator).status == 403


def test_the_forged_and_the_stale_are_refused_saying_why(issuer: ServedIssuer) -> None:
    function, publisher = coordinator(issuer.issuer)
    stranger = RSAKey.generate_key(2048, parameters={"kid": "rsa-9"})
    cases = {
        "it expired at 2025-12-06T05:46:40Z": issuer.token(exp=1765000000),
        'its audience is "grafana"': issuer.token(aud="grafana"),
        'its issuer is "https://evil.example"': issuer.token(iss="https://evil.example"),
        "a key the issuer does not publish (key 'rsa-9')": issuer.token("rsa-9", key=stranger),
        "its signature fails with the issuer's key 'rsa-1'": issuer.token("rsa-1", key=stranger),
        "unsigned (alg none)": issuer.unsigned(roles=["admin"]),
        "signed with 'HS256'": issuer.hs256_with_public_key(),
        "its header cannot be read": "eyJub3QganNvbg.eyJzdWIiOiJ4In0.c2ln",
    }
    for why, token in cases.items():
        answer = ask(function, "POST", "/", token, RUN)
        assert answer.status == 401, (why, answer.body)
        assert why in answer.body["detail"]
        assert answer.headers["WWW-Authenticate"] == 'Bearer realm="billing", error="invalid_token"'
        assert token not in json.dumps(answer.body)
    assert publisher.published == []


def test_an_issuer_out_of_reach_is_a_503() -> None:
    with served_issuer() as gone:
        address = gone.issuer
    function, _ = coordinator(address)
    answer = ask(function, "GET", "/runs", gone.token())
    assert answer.status == 503
    assert "issuer's keys cannot be read" in answer.body["detail"]
    assert gone.token() not in json.dumps(answer.body)
