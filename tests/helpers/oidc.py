"""An OpenID Connect issuer of the tests' own: its key pairs, the JWTs it signs (and the
forged ones an attacker would make), its JWKS and discovery document, and, for the
integration tier, both served over HTTP on 127.0.0.1 from a thread."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

AUDIENCE = "billing-functions"
SUBJECT = "3f0c9a2e-ada-lovelace"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Issuer:
    """Key pairs (an RSA key ``rsa-1`` and an EC key ``ec-1``) and the JWTs they sign for
    ``issuer``; ``published``: the key ids its JWKS holds."""

    def __init__(self, issuer: str = "https://sso.example.test/realms/billing") -> None:
        self.issuer = issuer
        self.keys: dict[str, RSAKey | ECKey] = {
            "rsa-1": RSAKey.generate_key(2048, parameters={"kid": "rsa-1", "use": "sig"}),
            "ec-1": ECKey.generate_key("P-256", parameters={"kid": "ec-1", "use": "sig"}),
        }
        self.published = ["rsa-1", "ec-1"]

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.keys[kid].as_dict(private=False) for kid in self.published]}

    def discovery(self) -> dict[str, Any]:
        return {"issuer": self.issuer, "jwks_uri": self.issuer + "/protocol/openid-connect/certs"}

    def claims(self, **changed: Any) -> dict[str, Any]:
        """A viewer's claims, valid for five minutes from now; ``changed`` over them (a
        value None: the claim left out)."""
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "sub": SUBJECT,
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            "roles": ["viewer"],
        }
        claims.update(changed)
        return {name: value for name, value in claims.items() if value is not None}

    def token(
        self,
        kid: str = "rsa-1",
        alg: str | None = None,
        key: RSAKey | ECKey | None = None,
        **changed: Any,
    ) -> str:
        """A JWT of ``claims(**changed)`` signed by the key ``kid`` (or by ``key``, named
        ``kid``)."""
        signer = key if key is not None else self.keys[kid]
        alg = alg or ("RS256" if isinstance(signer, RSAKey) else "ES256")
        return jwt.encode({"alg": alg, "kid": kid}, self.claims(**changed), signer, [alg])

    def unsigned(self, **changed: Any) -> str:
        """The claims with ``alg: none`` and no signature."""
        header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
        return f"{header}.{_b64(json.dumps(self.claims(**changed)).encode())}."

    def hs256_with_public_key(self, kid: str = "rsa-1") -> str:
        """The claims MACed with HS256 and the issuer's public key (its PEM, which anyone
        may read) as the secret: the key-confusion attack."""
        pem = self.keys[kid].as_pem(private=False)
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
        signing_input = f"{header}.{_b64(json.dumps(self.claims()).encode())}"
        mac = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64(mac)}"


class CountingFetch:
    """The issuer's documents as ``runtime.oidc.fetch_json`` would read them, counted."""

    def __init__(self, issuer: Issuer) -> None:
        self.issuer = issuer
        self.urls: list[str] = []

    def __call__(self, url: str) -> Mapping[str, Any]:
        self.urls.append(url)
        if url.endswith("/.well-known/openid-configuration"):
            return self.issuer.discovery()
        assert url == self.issuer.discovery()["jwks_uri"], url
        return self.issuer.jwks()


class _Handler(BaseHTTPRequestHandler):
    issuer: Issuer

    def do_GET(self) -> None:
        documents = {
            "/.well-known/openid-configuration": self.issuer.discovery(),
            "/jwks": self.issuer.jwks(),
        }
        document = documents.get(self.path)
        body = json.dumps(document).encode()
        self.send_response(200 if document is not None else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class ServedIssuer(Issuer):
    """An issuer whose discovery document and JWKS are served at its own address."""

    def discovery(self) -> dict[str, Any]:
        return {"issuer": self.issuer, "jwks_uri": self.issuer + "/jwks"}


@contextmanager
def served_issuer() -> Iterator[ServedIssuer]:
    """An issuer at ``http://127.0.0.1:<port>``, serving until the block ends."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    issuer = ServedIssuer(f"http://127.0.0.1:{server.server_address[1]}")
    server.RequestHandlerClass = type("Handler", (_Handler,), {"issuer": issuer})
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield issuer
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
