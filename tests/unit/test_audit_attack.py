"""Attacks on the audit trail (``runtime/auditing.py``, ``functions/audit``,
``functions/storage/s3_audit.py``): each test holds the trail to a promise it was made
(docs/security.md "The audit trail") and failed while the defect it names was there."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cfnlint.decode import decode

import functions.storage.s3_audit as s3_audit
from functions.context import iso_millis
from functions.errors import StorageUnavailable
from functions.http.web import HttpRequest
from functions.storage import keys
from functions.storage.audit_log import AuditEntry, AuditOutcome, AuditQuery, matches
from functions.storage.memory_bucket import MemoryBucket
from functions.storage.s3_audit import S3AuditLog
from runtime.config import REPO
from runtime.http_function import HttpFunction
from tests.unit.callers import ADMIN, Clock, audit, changed_by, start, token_of
from tests.unit.harness import TOKEN, TOKENS_BUCKET, Harness, app, client

CUSTOMER = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "city": "London",
    "connectionId": "c-1",
    "connectionMandate": "m-1",
}


def everything_kept(harness: Harness) -> str:
    """Every key and object under audit/ in the tokens' bucket, as one text."""
    bucket = harness.services.bucket(TOKENS_BUCKET)
    names = list(bucket.names("audit/"))
    bodies = [bucket.get_bytes(name) or b"" for name in names]
    return "\n".join(names) + "\n" + b"\n".join(bodies).decode()


# -- a token never appears in the audit ---------------------------------------------------


def test_a_token_sent_in_a_path_never_reaches_the_audit(
    guarded: Harness, ticking_clock: Clock
) -> None:
    """An admin who types a token where its name goes (`billing tokens revoke <token>`), or
    the environment's token where a run id goes: the path, the runs and the refusal's
    detail were kept verbatim, and the run "id" even became an S3 key (audit/by-run/<token>/)."""
    made = client("coordinator").post(
        "/tokens", json={"name": "ann", "role": "operator"}, headers=ADMIN
    )
    secret = made.get_json()["token"]
    assert client("coordinator").post(f"/tokens/{secret}/revoke", headers=ADMIN).status_code == 400
    assert client("coordinator").post(f"/runs/{TOKEN}/cancel", headers=ADMIN).status_code == 400
    listed = json.dumps(audit())
    assert "revokeToken" in listed and "cancelRun" in listed
    assert secret not in listed and TOKEN not in listed
    kept = everything_kept(guarded)
    assert secret not in kept and TOKEN not in kept


# -- what a request made is its target ----------------------------------------------------


def test_a_customer_created_or_imported_is_named_by_its_record(
    guarded: Harness, ticking_clock: Clock
) -> None:
    """The outcome names what a request made (a run, a token): a customer's answer says
    `customerId`, which ``outcome_of`` did not look for, so a create named nothing, and an
    import (which may replace customers) said only how many."""
    made = client("crm").post("/customers", json=CUSTOMER, headers=ADMIN)
    assert made.status_code == 201
    new_id = made.get_json()["customerId"]
    imported = client("crm").post(
        "/customers", json=[{**CUSTOMER, "customerId": "77"}, CUSTOMER], headers=ADMIN
    )
    assert imported.status_code == 201, imported.get_json()
    ids = [customer["customerId"] for customer in imported.get_json()]
    records = audit()["records"]
    assert [r["operation"] for r in records] == ["createCustomer", "createCustomer"]
    assert records[1]["outcome"].get("target") == new_id
    assert all(i in records[0]["outcome"].get("target", "") for i in ids), records[0]


# -- an action asked twice has the effect of one, and the audit says which ----------------


def test_a_second_cancel_is_not_recorded_as_a_change(
    guarded: Harness, ticking_clock: Clock
) -> None:
    """Bob cancels a run Ann cancelled: the run says cancelledBy ann, and the audit said
    both cancelled it (done, not replayed): by the trail's own test of a change (a 2xx
    that repeated nothing) the run was cancelled twice, the second time by bob."""
    ann, bob = token_of("ann", "operator"), token_of("bob", "operator")
    run = start(ann).get_json()["runId"]
    for who in (ann, bob):
        assert client("coordinator").post(f"/runs/{run}/cancel", headers=who).status_code == 202
    records = audit(f"?run={run}&limit=100")["records"]
    cancels = changed_by(records, "cancelRun")
    assert cancels == ["ann"]


def test_a_second_revoke_is_not_recorded_as_a_change(
    guarded: Harness, ticking_clock: Clock
) -> None:
    token_of("ann", "operator")
    for _ in range(2):
        assert client("coordinator").post("/tokens/ann/revoke", headers=ADMIN).status_code == 200
    revokes = [
        r
        for r in audit()["records"]
        if r["operation"] == "revokeToken" and not r["outcome"]["replayed"]
    ]
    assert len(revokes) == 1


def test_two_admins_revoking_at_once_leave_one_revoke(
    guarded: Harness, ticking_clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two admins revoking at once, each having read the token unrevoked: one revokes it,
    the other repeats that revoke, and both answer with its time and caller (found when the
    second overwrote the first's revokedBy and both were audited as the change)."""
    token_of("ann", "operator")
    admins = [token_of("root", "admin"), token_of("boss", "admin")]
    both = threading.Barrier(2, timeout=5)
    reading = MemoryBucket.get_json

    def get_together(bucket: MemoryBucket, key: str) -> Any:
        found = reading(bucket, key)
        if key == keys.token_record("ann"):
            both.wait()  # each has read the token unrevoked before either writes
        return found

    monkeypatch.setattr(MemoryBucket, "get_json", get_together)
    served = app("coordinator")  # one app, as functions-framework serves its threads
    with ThreadPoolExecutor(2) as pool:
        answers = list(
            pool.map(lambda h: served.test_client().post("/tokens/ann/revoke", headers=h), admins)
        )
    assert [a.status_code for a in answers] == [200, 200]
    assert {a.get_json()["revokedBy"] for a in answers} == {answers[0].get_json()["revokedBy"]}


# -- S3 failing half way: what is listed is listed by each filter --------------------------


class Failing:
    """The tokens' bucket, but a write of a key under ``failing`` raises (S3 away)."""

    def __init__(self, bucket: Any, failing: str) -> None:
        self.bucket, self.failing = bucket, failing

    def put_json(self, key: str, value: Any, *, only_if_absent: bool = False) -> str | None:
        if key.startswith(self.failing):
            raise StorageUnavailable(f"S3 refused {key}")
        written: str | None = self.bucket.put_json(key, value, only_if_absent=only_if_absent)
        return written

    def names(self, prefix: str = "", start_after: str = "") -> Iterator[str]:
        return iter(self.bucket.names(prefix, start_after))

    def get_json_all(self, names: Sequence[str]) -> list[Mapping[str, Any] | None]:
        read: list[Mapping[str, Any] | None] = self.bucket.get_json_all(names)
        return read


def failing_at(harness: Harness, prefix: str) -> None:
    auditor = harness.services.auditor
    assert auditor is not None
    bucket = Failing(harness.services.bucket(TOKENS_BUCKET), prefix)
    harness.services.__dict__["auditor"] = replace(auditor, audit=S3AuditLog(bucket))  # type: ignore[arg-type]


def test_a_request_listed_is_listed_by_who_when_its_index_cannot_be_written(
    guarded: Harness, ticking_clock: Clock
) -> None:
    """``begin`` wrote the record, then failed at the index by who: the request (answered
    503) is in the trail, but `?who=` its caller does not list it."""
    operator = token_of("ops", "operator")
    failing_at(guarded, keys.AUDIT_BY_WHO)
    assert start(operator).status_code == 503
    listed = [r["requestId"] for r in audit()["records"] if r["who"] == "ops"]
    by_who = [r["requestId"] for r in audit("?who=ops")["records"]]
    assert listed == by_who


def test_a_start_listed_with_its_run_is_listed_by_that_run_when_its_index_fails(
    guarded: Harness, ticking_clock: Clock
) -> None:
    """``end`` wrote the outcome (runs: [the run]), then failed at the run's index: the
    trail says who started the run, but `?run=` (`billing audit ls --run`) says nobody did."""
    failing_at(guarded, keys.AUDIT_BY_RUN)
    started = start(ADMIN)
    assert started.status_code == 202
    run = started.get_json()["runId"]
    claimed = [r["requestId"] for r in audit()["records"] if run in r["runs"]]
    by_run = [r["requestId"] for r in audit(f"?run={run}")["records"]]
    assert claimed == by_run


# -- a request whose body cannot be read ---------------------------------------------------


def test_a_body_that_cannot_be_read_still_gets_an_outcome_and_a_request_id(
    guarded: Harness, ticking_clock: Clock
) -> None:
    """The body is read outside the handler's try: a client gone mid-body (werkzeug's
    ClientDisconnected) escaped the function, and the record stayed `unknown` although
    nothing was done."""
    function = HttpFunction("coordinator", lambda: guarded.services)
    head = HttpRequest(
        method="POST",
        path="/",
        query={},
        headers={"authorization": f"Bearer {TOKEN}", "content-type": "application/json"},
    )

    def gone() -> bytes:
        raise OSError("the client went away")

    answer = function(head, gone)
    assert answer.status >= 400 and "X-Request-Id" in answer.headers
    (record,) = audit()["records"]
    assert record["state"] != "unknown"


# -- the console reads the request id; the functions cannot erase the trail --------------


def test_the_console_may_read_the_request_id_of_what_it_asked(guarded: Harness) -> None:
    """The console (another origin than the CRM's) is told every answer's X-Request-Id,
    which a 503 asks to quote, but CORS exposes only `Link`: its script cannot read it."""
    console = "http://127.0.0.1:3007"
    guarded.services.settings = replace(guarded.services.settings, console_origins=console)
    made = client("crm").post("/customers", json=CUSTOMER, headers={**ADMIN, "Origin": console})
    assert made.status_code == 201 and made.headers["Access-Control-Allow-Origin"] == console
    exposed = made.headers["Access-Control-Expose-Headers"].split(", ")
    assert "X-Request-Id" in exposed


def test_no_function_may_delete_or_overwrite_the_audit_on_aws() -> None:
    """docs/security.md: give the functions s3:PutObject on audit/* and no s3:DeleteObject;
    the CRM has just that, but the coordinator has S3CrudPolicy on the whole tokens bucket
    (s3:DeleteObject on audit/* included): a coordinator's credentials erase the trail."""
    template, problems = decode(str(REPO / "infra" / "aws" / "template.yaml"))
    assert not problems and template is not None
    for name, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for policy in resource["Properties"].get("Policies", []):
            crud = policy.get("S3CrudPolicy") if isinstance(policy, dict) else None
            assert crud is None or crud["BucketName"] != {"Ref": "TokensBucket"}, name


def test_the_coordinator_may_put_every_key_of_the_tokens_bucket_it_writes_on_aws() -> None:
    """What the token store and the audit write (keys.py) is what the template lets the
    coordinator put in the tokens' bucket: a revoke is not refused by IAM on AWS alone."""
    template, problems = decode(str(REPO / "infra" / "aws" / "template.yaml"))
    assert not problems and template is not None
    policies = template["Resources"]["CoordinatorFunction"]["Properties"]["Policies"]
    allowed = {
        resource["Fn::Sub"].rpartition("}/")[2]
        for policy in policies
        if isinstance(policy, dict) and "Statement" in policy
        for statement in policy["Statement"]
        if statement["Action"] == "s3:PutObject"
        for resource in statement["Resource"]
    }
    assert allowed == {keys.TOKENS + "*", keys.TOKEN_REVOCATIONS + "*", "audit/*"}


# -- what held: paging, fuzzed against the filters themselves -----------------------------


RUNS = ("run-20261206T090000-0000000a", "run-20261206T090000-0000000b")


def _trail(rng: random.Random, count: int) -> tuple[S3AuditLog, datetime]:
    trail = S3AuditLog(MemoryBucket("audit"))
    base = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
    for _ in range(count):
        millis = rng.choice([0, 0, 1, 999, 1000, 1999]) + 1000 * rng.randrange(5)
        now = base + timedelta(milliseconds=millis)  # many in one millisecond
        request = f"{rng.getrandbits(128):032x}"
        runs = (rng.choice(RUNS),) if rng.random() < 0.5 else ()
        who = rng.choice(["ann", "a%2Fb", "ü/x", "a" * 255])
        entry = AuditEntry(
            keys.audit_entry_id(int(now.timestamp() * 1000), request),
            iso_millis(now),
            who,
            "admin",
            "named token",
            "startRun",
            "POST",
            "/",
            request,
            runs,
        )
        trail.begin(entry)
        made = (rng.choice(RUNS),) if rng.random() < 0.3 else ()
        trail.end(entry, AuditOutcome(202 if made else 400, runs=made))
    return trail, base


@pytest.mark.parametrize("scanned", [1, 3, 1000])
def test_every_filter_pages_without_gaps_or_repeats(
    scanned: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(s3_audit, "SCANNED_PER_PAGE", scanned)
    rng = random.Random(scanned)
    for _ in range(60):
        trail, base = _trail(rng, rng.randrange(0, 30))
        every = list(trail.page(AuditQuery(1000)).items) if scanned == 1000 else None
        every = every or _all(trail, AuditQuery(100))
        ids = [e.entry_id for e in every]
        assert ids == sorted(set(ids))
        for _ in range(8):
            query: dict[str, Any] = {
                "run": rng.choice([None, *RUNS]),
                "who": rng.choice([None, "ann", "a%2Fb", "ü/x", "a" * 255]),
                "since": rng.choice([None, base + timedelta(seconds=rng.randrange(6))]),
                "until": rng.choice([None, base + timedelta(seconds=rng.randrange(6))]),
            }
            wanted = [e.entry_id for e in every if matches(e, AuditQuery(1, **query))]
            paged = _all(trail, AuditQuery(rng.randrange(1, 5), **query))
            assert [e.entry_id for e in paged] == wanted, query


def _all(trail: S3AuditLog, query: AuditQuery) -> list[AuditEntry]:
    found: list[AuditEntry] = []
    for _ in range(1000):
        page = trail.page(query)
        assert len(page.items) <= query.limit
        found.extend(page.items)
        if page.next_after is None:
            return found
        query = replace(query, after=page.next_after)
    raise AssertionError("no last page")
