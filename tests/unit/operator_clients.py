"""The clients in the model-based test (``test_operator_model.py``), and what each answer
promises them, checked as it comes. Of the coordinator's ``POST /``:

- a 503 published nothing, and listed no run;
- a 202 has every customer of the request on its way or billed in the period before;
- a 422 came to a key sent before with another request;
- a 403 came to an actor whose role may not start runs, and did nothing
  (``operator_actors.py``);
- a client told 503 sends the same request again (``post_again``), and the ``billing``
  CLI, stopped by a 503 midway through its runs, is run again with the same plan: the same
  customers cut the same way, under the same Idempotency-Keys (``CliPlan``).

Of the CRM's ``POST /customers`` (``CrmClients``): an import answered for is whole, each new
customer once; one that failed is whole once sent again, never twice; one refused for its
actor's role added nobody. A request sent again, and a `billing run` run again, is sent by
the same actor as the first time.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from functions.storage import keys
from functions.wire.messages import Customer, WorkflowMessage
from tests.unit.operator_actors import Actors, allowed
from tests.unit.operator_view import Observed


@dataclass
class Post:
    """A request a client sent: its body, its Idempotency-Key, and who sent it."""

    body: dict[str, Any]
    key: str | None = None
    actor: str = "ann"

    @property
    def canonical(self) -> str:
        return json.dumps(self.body, sort_keys=True)


@dataclass
class CliPlan:
    """`billing run` of some customers by one actor: its runs as cut, its key, and what
    each got."""

    key: str
    chunks: list[Post]
    run_ids: dict[int, str] = field(default_factory=dict)
    unfinished: bool = True


class Clients:
    """Posts to the coordinator as clients do, checking each answer's promise."""

    def __init__(self, actors: Actors, jobs_bucket: str) -> None:
        self.actors = actors
        self.world = actors.world
        self.jobs = jobs_bucket
        self.refused: list[Post] = []  # answered 503: sent again later
        self.sent_with: dict[str, set[str]] = {}  # key -> the requests sent with it
        self.plans: list[CliPlan] = []

    def post(self, sent: Post) -> tuple[int, dict[str, Any]]:
        world = self.world
        before = len(world.publisher.published)
        listed = set(self.world.stored(self.jobs).names(keys.RUNS_NEWEST_FIRST))
        headers = {"idempotency-key": sent.key} if sent.key else {}
        if sent.key and allowed(sent.actor, "startRun"):  # a refusal never reads it
            self.sent_with.setdefault(sent.key, set()).add(sent.canonical)
        body = json.dumps(sent.body).encode()
        response = self.actors.call(sent.actor, "startRun", "coordinator", "/", body, headers)
        new = [o.message for o in world.publisher.published[before:]]
        status, answer = response.status, response.body
        assert status in (202, 403, 422, 503), answer
        if status == 403:
            return status, answer  # and nothing done (``Actors.call``)
        if status == 503:
            assert not new, f"a 503, yet {len(new)} workflow(s) were published: {answer}"
            # Listed: a place among the newest, and a record to show (the place is written
            # first; a record that failed after it leaves a place GET /runs skips).
            now_listed = set(self.world.stored(self.jobs).names(keys.RUNS_NEWEST_FIRST)) - listed
            records = set(self.world.stored(self.jobs).names(keys.RUNS))
            shown = [k for k in now_listed if keys.run_record(keys.run_of_listing(k)) in records]
            assert not shown, f"a 503 ({answer}), yet a run is listed: {shown}"
            self.refused.append(sent)
        elif status == 422:
            assert sent.key is not None, answer
            others = self.sent_with[sent.key] - {sent.canonical}
            assert others, f"a 422 for the only request sent with {sent.key!r}: {answer}"
        else:
            self._check_accepted(sent, answer, new)
        return status, answer

    def _check_accepted(self, sent: Post, answer: dict[str, Any], new: list[Any]) -> None:
        run_id = answer["runId"]
        assert all(
            isinstance(m, WorkflowMessage) and m.workflow_id.run_id == run_id for m in new
        ), "a 202 published another run's workflows"
        on_their_way = {w["customerIdentifier"] for w in answer["workflows"]}
        before = set(answer.get("billedBefore", []))
        assert on_their_way | before == set(sent.body["customerIdentifiers"]), answer
        assert answer.get("billingPeriod") == sent.body.get("billingPeriod"), answer

    def post_again(self, index: int) -> None:
        """A client told 503 sends its request again, as the answer tells it to."""
        sent = self.refused.pop(index % len(self.refused))
        self.post(sent)

    def cli_run(
        self, customers: list[str], period: str | None, plan_key: str, actor: str = "ann"
    ) -> None:
        """`billing run` of the customers by ``actor``, in runs of two, each under its
        plan's key."""
        chunks = [customers[at : at + 2] for at in range(0, len(customers), 2)]
        posts = [
            Post(_body(chunk, period), f"{plan_key}-{number}", actor)
            for number, chunk in enumerate(chunks)
        ]
        plan = CliPlan(plan_key, posts)
        self.plans.append(plan)
        self.run_plan(plan)

    def run_plan(self, plan: CliPlan) -> None:
        """Every run of the plan posted (again): a run that went out answers the same; a
        403 (the actor's role may not start runs) stops it for good."""
        failed = False
        for number, sent in enumerate(plan.chunks):
            status, answer = self.post(sent)
            if status == 403:
                break
            if status == 503:
                self.refused.remove(sent)  # the CLI is run again, not the request
                failed = True
                continue
            assert status == 202, answer
            first = plan.run_ids.setdefault(number, answer["runId"])
            assert answer["runId"] == first, "a re-run of `billing run` started a run again"
        plan.unfinished = failed

    def cli_rerun(self) -> None:
        plan = next(p for p in self.plans if p.unfinished)
        self.run_plan(plan)


def _body(customers: list[str], period: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"customerIdentifiers": customers}
    if period is not None:
        body["billingPeriod"] = period
    return body


def post_of(customers: list[str], period: str | None, key: str | None, actor: str) -> Post:
    return Post(_body(customers, period), key, actor)


def customer(customer_id: str, city: str = "Utrecht") -> Customer:
    return Customer(customer_id, f"First{customer_id}", f"Last{customer_id}", city, "5000", "1")


@dataclass
class CrmRequest:
    """What a client sent the CRM: one new customer (``single``), or a list to import of
    given-id items and new ones; each new one is marked by a city of its own."""

    items: list[dict[str, str]]
    single: bool = False
    actor: str = "ada"  # who sends it, and sends it again
    # "imported", "failed" (and sent again later), "conflicted", "refused" (for the role)
    answered: str = "not yet"

    @property
    def new_cities(self) -> list[str]:
        return [item["city"] for item in self.items if "customerId" not in item]


class CrmClients:
    """Creates and imports sent to the CRM, and what each answer says is stored."""

    def __init__(self, actors: Actors) -> None:
        self.actors = actors
        self.sent: list[CrmRequest] = []
        self.cities: dict[str, str] = {}  # customer id -> its city, as last written
        self.changed = False

    def send(self, sent: CrmRequest) -> None:
        self.changed = True
        body = sent.items[0] if sent.single else sent.items
        as_json = json.dumps(body).encode()
        response = self.actors.call(sent.actor, "createCustomer", "crm", "/customers", as_json)
        if response.status == 403:  # nothing added (Actors.call)
            sent.answered = "refused"
            return
        if response.status == 409 and sent.answered == "failed":
            # Another import gave an id this one planned and had not written yet: it is
            # not written twice, and says so (docs/guarantees.md).
            assert "have changed since" in response.body["detail"], response.body
            sent.answered = "conflicted"
            for item in sent.items:  # every other item is stored as sent, the given ones too
                if "customerId" in item:
                    self.cities[item["customerId"]] = item["city"]
            return
        assert response.status in (201, 503), response.body
        if response.status == 503:
            sent.answered = "failed"
            for item in sent.items:  # a given id may hold either customer until sent again
                self.cities.pop(item.get("customerId", ""), None)
            return
        sent.answered = "imported"
        stored = [response.body] if sent.single else response.body
        for item, kept in zip(sent.items, stored, strict=True):
            assert kept["city"] == item["city"]
            self.cities[kept["customerId"]] = item["city"]

    def check_whole_and_once(self, seen: Observed) -> None:
        if not self.changed:
            return
        self.changed = False
        held = seen.crm_customers()
        for customer_id, city in self.cities.items():
            assert held.get(customer_id) == city, f"customer {customer_id} is not as stored"
        cities = Counter(held.values())
        for sent in self.sent:
            for city in sent.new_cities:
                assert cities[city] <= 1, f"a new customer ({city}) stored twice"
                if sent.answered == "refused" or (sent.single and sent.answered == "failed"):
                    assert cities[city] == 0, f"a create answered {sent.answered}: {city}"
