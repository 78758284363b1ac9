"""The actors of the model-based test (``test_operator_model.py``), each with a named token of
a role, and the audit trail they leave. Every HTTP call a rule makes is sent by an actor
hypothesis draws: of the role the operation needs most of the time, sometimes of the role
below (a viewer starting a run, an operator importing customers). ``Actors.call`` sends it
with the actor's token and keeps what came of it (``Sent``); a call refused for its role
must answer 403 and change nothing.

``Actors.check_audit`` is the invariant: every state change has exactly one audit record,
naming its actor. It reads the tokens bucket past the faults (``Stored``), no request.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from functions.access import NAMED_TOKEN, Role, digest, new_token
from functions.context import iso_millis
from functions.http.web import HttpResponse
from functions.storage import Run, keys
from functions.storage.audit_log import AuditEntry, to_entry
from functions.storage.base import StoredToken
from functions.wire.messages import WorkflowMessage
from runtime.auditing import REQUEST_ID
from runtime.config import FunctionSettings
from tests.unit.operator_world import World

ACTORS = {"ann": Role.OPERATOR, "bob": Role.OPERATOR, "vic": Role.VIEWER, "ada": Role.ADMIN}
# The role each operation the rules call needs (docs/security.md).
NEEDS = {
    "startRun": Role.OPERATOR,
    "retryRun": Role.OPERATOR,
    "cancelRun": Role.OPERATOR,
    "createCustomer": Role.ADMIN,
}
# Who sends a call: of the role it needs most of the time (the first shrinks best), an
# admin now and then, the role below one time in five or six.
OPERATOR_CALL = st.sampled_from(("ann", "bob", "ann", "bob", "ada", "vic"))
ADMIN_CALL = st.sampled_from(("ada", "ada", "ada", "ada", "bob"))
NOTHING_DONE = "nothing was done"
STARTERS = frozenset(actor for actor, role in ACTORS.items() if role.allows(Role.OPERATOR))


def allowed(actor: str, operation: str) -> bool:
    return ACTORS[actor].allows(NEEDS[operation])


@dataclass(frozen=True)
class Sent:
    """A request the model sent, and what came of it: its answer's status, whether it was
    a replay (``Idempotent-Replayed``), the runs it names (``runId``) and its
    ``X-Request-Id``; how many workflows it published, whether an S3 write failed while it
    was served, and whether it answered that nothing was done (its audit unwritten)."""

    actor: str
    operation: str
    status: int
    replayed: bool
    runs: tuple[str, ...]
    request_id: str
    published: int
    faulted: bool
    nothing_done: bool

    @property
    def changed_state(self) -> bool:
        return 200 <= self.status < 300 and not self.replayed


class Actors:
    """The actors' tokens, made at ``seed``; every request they send, as sent."""

    def __init__(self, world: World, settings: FunctionSettings) -> None:
        self.world = world
        self.settings = settings
        self.tokens: dict[str, str] = {}
        self.sent: dict[str, Sent] = {}  # by request id
        self._unchecked: list[Sent] = []  # sent since the invariant's last look
        self._entries: dict[str, AuditEntry] = {}  # audit records by key, once seen
        self._recorded: Counter[str] = Counter()  # request id -> its records
        self._published_seen = 0  # messages published that the invariant looked at
        self._runs_checked: set[str] = set()  # runs whose starter was checked

    def seed(self) -> None:
        """A named token for each actor, made through the store (as `make up` does); the
        checks' reads go as the viewer."""
        store = self.world.services.tokens
        assert store is not None
        with self.world.faults_off():
            for name, role in ACTORS.items():
                token = new_token()
                made = StoredToken(name, role, digest(token), iso_millis(self.world.now))
                assert store.create(made)
                self.tokens[name] = token
        self.world.headers = self.bearer("vic")

    def bearer(self, actor: str) -> dict[str, str]:
        return {"authorization": f"Bearer {self.tokens[actor]}"}

    def call(
        self,
        actor: str,
        operation: str,
        function: str,
        path: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> HttpResponse[Any]:
        """``POST path`` of ``function`` as ``actor``: its answer, once what it promises
        whatever the role is checked (a refusal, or a 503 that did nothing, changed
        nothing; every answer names its request)."""
        world = self.world
        before, failed = len(world.publisher.published), world.faults.failed
        held = self._held()
        response = world.call(
            function, "POST", path, body, headers={**(headers or {}), **self.bearer(actor)}
        )
        status, answer = response.status, response.body
        run = answer.get("runId") if isinstance(answer, dict) and status < 400 else None
        nothing_done = status == 503 and NOTHING_DONE in str(answer.get("detail", ""))
        request_id = response.headers.get(REQUEST_ID)
        assert request_id is not None, f"{operation} answered {status} without its id"
        sent = Sent(
            actor,
            operation,
            status,
            response.headers.get("Idempotent-Replayed") == "true",
            (run,) if isinstance(run, str) else (),
            request_id,
            len(world.publisher.published) - before,
            world.faults.failed > failed,
            nothing_done,
        )
        assert sent.request_id not in self.sent, f"a request id given twice: {sent}"
        self.sent[sent.request_id] = sent
        self._unchecked.append(sent)
        assert (status == 403) != allowed(actor, operation), (actor, operation, answer)
        if status == 403 or nothing_done:
            assert not sent.published, f"{status}, yet it published: {answer}"
            assert self._held() == held, f"{status} ({answer}), yet the buckets changed"
        return response

    def _held(self) -> list[list[str]]:
        """The names every bucket but the tokens' holds."""
        settings = self.settings
        buckets = (settings.jobs_bucket, settings.bills_bucket, settings.customers_bucket)
        return [self.world.stored(bucket).names() for bucket in buckets]

    # -- the invariant ------------------------------------------------------------------

    def check_audit(self, runs: dict[str, Run]) -> None:
        """Every state change has exactly one audit record, naming its actor: no two records
        of one request, each of a request the model sent as the actor it names; a 2xx that
        replayed nothing has one, its outcome the answer's (or none, if S3 failed while it
        was served); a 403 at most one, its outcome the refusal; a 503 that did nothing
        published nothing; and every run Kafka took that no tick started was started by an
        actor who may start runs (``runs``: the run records, by id).

        A record and its outcome are written while their request is served, once each and
        never changed, and a run's record before Kafka takes it: so each is checked once,
        at the first step after it appeared."""
        for entry in self._new_entries():
            self._recorded[entry.request_id] += 1
            assert self._recorded[entry.request_id] == 1, f"a request's second record: {entry}"
            sent = self.sent.get(entry.request_id)
            assert sent is not None, f"an audit record of a request never sent: {entry}"
            named = (entry.who, entry.role, entry.operation, entry.via)
            mine = (sent.actor, ACTORS[sent.actor].value, sent.operation, NAMED_TOKEN)
            assert named == mine, f"{entry} is of {sent}"
            outcome = entry.outcome
            if sent.changed_state and outcome is None:
                assert sent.faulted, f"a state change's outcome is missing, no fault: {sent}"
            elif sent.changed_state or sent.status == 403:
                assert outcome is not None, f"{sent} is audited without its outcome"
                found = (outcome.status, outcome.replayed, outcome.runs)
                assert found == (sent.status, False, sent.runs), f"{entry} is of {sent}"
        for sent in self._unchecked:
            if sent.changed_state:
                assert self._recorded[sent.request_id] == 1, f"a change not audited: {sent}"
            if sent.nothing_done:
                assert not sent.published, f"nothing was done, yet it published: {sent}"
        self._unchecked.clear()
        for run_id in self._new_runs(runs):
            run = runs.get(run_id)
            assert run is not None, f"Kafka took run {run_id}, which has no record"
            if run.scheduled_for is None:
                assert run.started_by in STARTERS, f"{run_id} started by {run.started_by}"

    def _new_entries(self) -> list[AuditEntry]:
        """The audit records written since the last look, each with its outcome if any."""
        stored = self.world.stored(self.settings.tokens_bucket or "")
        new = [key for key in stored.names(keys.AUDIT_LOG) if key not in self._entries]
        if not new:
            return []
        outcomes = set(stored.names(keys.AUDIT_OUTCOMES))
        for key in new:
            outcome = keys.audit_outcome(keys.audit_id_of(key))
            held = stored.json(outcome) if outcome in outcomes else None
            self._entries[key] = to_entry(stored.json(key), held)
        return [self._entries[key] for key in new]

    def _new_runs(self, runs: dict[str, Run]) -> list[str]:
        """The runs Kafka took since the last look: a workflow of theirs published, or none
        to publish (every customer billed in the period before)."""
        published = self.world.publisher.published
        taken = [
            o.message.workflow_id.run_id or ""
            for o in published[self._published_seen :]
            if isinstance(o.message, WorkflowMessage)
        ]
        self._published_seen = len(published)
        taken += [r for r, run in runs.items() if set(run.customer_ids) <= run.billed_before]
        new = [run_id for run_id in dict.fromkeys(taken) if run_id not in self._runs_checked]
        self._runs_checked.update(new)
        return new
