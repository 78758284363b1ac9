"""Attacks on the OpenID Connect check (``runtime/oidc.py``): each test holds it to a
promise it was made (docs/security.md "OpenID Connect") and failed while the defect it
names was there."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from functions.errors import IssuerUnavailable
from functions.storage import keys
from runtime.auth import Unauthenticated
from runtime.oidc import JwksKeys, JwtVerifier
from tests.helpers.oidc import AUDIENCE, SUBJECT, CountingFetch, Issuer


@contextmanager
def answering(raw: bytes) -> Iterator[tuple[str, list[int]]]:
    """A server on 127.0.0.1 answering every connection with ``raw``, whatever was asked:
    its address, and how many connections it took."""
    server = socket.create_server(("127.0.0.1", 0))
    taken: list[int] = []

    server.settimeout(0.05)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            taken.append(1)
            with conn:
                conn.recv(65536)
                conn.sendall(raw)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}", taken
    finally:
        stop.set()
        thread.join(5)
        server.close()


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"SSH-2.0-OpenSSH_9.6\r\n", id="not-http"),
        pytest.param(b"HTTP/1.1 200 OK\r\nX: " + b"a" * 70_000 + b"\r\n\r\n{}", id="long-header"),
        pytest.param(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", id="chunk"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 9000\r\n\r\n" + b"[" * 9000, id="deep"),
    ],
)
def test_keys_answered_broken_are_an_outage_tried_again_at_most_every_5_s(
    issuer: Issuer, raw: bytes
) -> None:
    """fetch_json turns OSError and ValueError into IssuerUnavailable, but an answer that is
    not HTTP (http.client.HTTPException) or JSON nested deeper than the parser recurses
    (RecursionError) escapes: a 500 rather than a 503, and, no failure kept, every JWT
    request reads the keys again."""
    with answering(raw) as (url, taken):
        keys = JwksKeys(issuer.issuer, url + "/jwks")
        checker = JwtVerifier(issuer.issuer, AUDIENCE, "roles", keys)
        for _ in range(3):
            with pytest.raises(IssuerUnavailable):
                checker.caller(issuer.token())
        assert len(taken) == 1


def test_a_redirect_of_the_keys_to_ftp_is_not_followed(issuer: Issuer) -> None:
    """fetch_json refuses an OIDC_JWKS_URL that is not http(s) ("never file: or ftp:"), but
    urllib follows a redirect to ftp: itself."""
    with answering(b"") as (ftp, dialled):
        location = ftp.replace("http://", "ftp://") + "/keys"
        redirect = f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n"
        with answering(redirect.encode()) as (url, _), pytest.raises(IssuerUnavailable):
            JwksKeys(issuer.issuer, url + "/jwks").key("rsa-1")
        assert dialled == []


@pytest.mark.parametrize(
    "subject",
    [
        pytest.param("ada\u2028admin", id="line-separator"),
        pytest.param("ada\u2029admin", id="paragraph-separator"),
        pytest.param("nimda\u202eada", id="right-to-left-override"),
        pytest.param("ad\u200ba", id="zero-width-space"),
    ],
)
def test_a_subject_with_unicode_controls_is_refused(issuer: Issuer, subject: str) -> None:
    """Only C0 and C1 controls are refused in `sub`: a line separator (a new line to many a
    log viewer) or a bidi override (`ada` shown as another name) reaches the audit's `who`
    and a run's `startedBy`."""
    keys = JwksKeys(issuer.issuer, fetch=CountingFetch(issuer))
    checker = JwtVerifier(issuer.issuer, AUDIENCE, "roles", keys)
    with pytest.raises(Unauthenticated, match="sub"):
        checker.caller(issuer.token(sub=subject))


def test_the_longest_subject_taken_fits_an_s3_key_of_the_audit(issuer: Issuer) -> None:
    """`sub` is bounded at 255 characters, but the audit's index by who percent-encodes it
    into an S3 key: 255 non-ASCII characters are 2,295 bytes, over S3's 1,024, so every
    state-changing request of that caller fails to be recorded (a 503 blaming S3)."""
    keys_ = JwksKeys(issuer.issuer, fetch=CountingFetch(issuer))
    checker = JwtVerifier(issuer.issuer, AUDIENCE, "roles", keys_)
    subject = "é" * 255
    try:
        name = checker.caller(issuer.token(sub=subject)).name
    except Unauthenticated:
        return  # refused: never written
    entry_id = keys.audit_entry_id(1765000000000, "f" * 64)
    assert len((keys.audit_by(name) + entry_id).encode()) <= 1024


def test_a_key_held_is_not_kept_waiting_behind_a_read_for_an_unknown_one(
    issuer: Issuer,
) -> None:
    """The keys' lock is held while they are read (up to FETCH_TIMEOUT_S a socket read):
    a token of a key held, read a moment ago, waits behind a read that a forged key id
    started, so a flood of forged ids against a slow issuer stalls every JWT caller."""
    counting = CountingFetch(issuer)
    slow, released = threading.Event(), threading.Event()

    def fetch(url: str) -> Any:
        if slow.is_set():
            released.wait(10)
        return counting(url)

    now = [1000.0]
    keys = JwksKeys(issuer.issuer, fetch=fetch, clock=lambda: now[0])
    checker = JwtVerifier(issuer.issuer, AUDIENCE, "roles", keys)
    assert checker.caller(issuer.token()).name == SUBJECT
    now[0] += 6  # an unknown key id may read them again
    slow.set()
    token = issuer.token("forged-1", key=issuer.keys["rsa-1"])

    def forge() -> None:
        with pytest.raises(Unauthenticated):
            checker.caller(token)

    forged = threading.Thread(target=forge)
    forged.start()
    try:
        for _ in range(1000):  # until the forged id's read has begun
            if keys._lock.locked():
                break
            time.sleep(0.001)
        answered: list[str] = []
        honest = threading.Thread(
            target=lambda: answered.append(checker.caller(issuer.token()).name)
        )
        honest.start()
        honest.join(1)
        assert answered == [SUBJECT]
    finally:
        released.set()
        forged.join(10)


def test_a_header_a_sender_wrote_is_not_repeated_through_a_joserfc_error(issuer: Issuer) -> None:
    """Header values are repeated only if plain (``_plain``), but joserfc's error is put in
    the 401 as it is: an unsigned `crit` (checked before the signature) is echoed, new
    lines and all."""
    keys_ = JwksKeys(issuer.issuer, fetch=CountingFetch(issuer))
    checker = JwtVerifier(issuer.issuer, AUDIENCE, "roles", keys_)
    header = {"alg": "RS256", "kid": "rsa-1", "crit": ["<img src=x>\nFORGED log line"]}
    encoded = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=").decode()
    token = ".".join([encoded, *issuer.token().split(".")[1:]])
    with pytest.raises(Unauthenticated) as refused:
        checker.caller(token)
    assert "FORGED" not in str(refused.value) and "<img" not in str(refused.value)
