"""The checks of the model-based test (``test_operator_model.py``): what holds of the system
after every step, and once it settled. They read the buckets and the topics directly
(``operator_view.py``), so they make no request and meet no fault, but for the settled
runs' status, asked of the coordinator as a client would."""

from __future__ import annotations

from collections import Counter, defaultdict

from functions.storage import keys
from functions.wire.billing_period import BillingPeriod
from functions.wire.identifiers import WorkflowId
from tests.unit.operator_view import Observed
from tests.unit.operator_world import World


def bills_once_a_period_and_a_lineage(seen: Observed, settled: bool) -> None:
    """At most one bill a customer in a period (its key holds one), and a run of a
    period bills only into it; without a period, at most one bill and one pending
    workflow a customer in a lineage. Settled: none pending."""
    runs = seen.runs()
    failed = {keys.workflow_of_failure(k) for k in seen.jobs_bucket_names(keys.FAILED)}
    billed: Counter[tuple[str, str]] = Counter()
    for folder, writer, customer_id in seen.bills():
        run = runs.get(WorkflowId(writer).run_id or "")
        if run is not None and run.billing_period is not None:
            assert folder == run.billing_period, f"{writer} billed {customer_id} in {folder}"
        period = folder if BillingPeriod.is_one(folder) else None
        billed[(period or seen.lineage(runs, writer), customer_id)] += 1
    twice = [key for key, n in billed.items() if n > 1]
    assert not twice, f"billed twice in a period or a lineage: {twice}"
    pending: Counter[tuple[str, str]] = Counter()
    for workflow in seen.workflows():
        identity = workflow.billing_period or seen.lineage(runs, workflow.workflow_id)
        key = (identity, workflow.customer_identifier)
        if workflow.workflow_id.key not in failed and key not in billed:
            pending[key] += 1
    # Two runs of a period may both have a customer pending (planned before either
    # billed it): its bill is created once all the same.
    doubled = [key for key, n in pending.items() if n > 1 and not BillingPeriod.is_one(key[0])]
    assert not doubled, f"two pending workflows within a lineage (root, customer): {doubled}"
    if settled:
        assert not pending, f"settled, yet neither billed nor failed: {sorted(pending)}"


def ticks_bill_their_customers_once(seen: Observed, ticks_begun: dict[str, set[str]]) -> None:
    """No customer in two runs of a tick; a tick ended holds every customer the CRM had
    when it began."""
    runs = seen.runs()
    published = seen.published()
    by_tick: dict[str, Counter[str]] = defaultdict(Counter)
    for run in runs.values():
        if run.scheduled_for is not None and run.run_id in published:
            by_tick[run.scheduled_for].update(run.customer_ids)
    for name, counted in by_tick.items():
        twice = [c for c, n in counted.items() if n > 1]
        assert not twice, f"tick {name}: customers {twice} in two of its runs"
    for name in seen.ticks_ended(list(ticks_begun)):
        missing = ticks_begun[name] - set(by_tick[name])
        assert not missing, f"tick {name} ended, customers {sorted(missing)} never billed"


def runs_kafka_took_are_settled(world: World, seen: Observed, settled: set[str]) -> None:
    """As the coordinator answers: every run Kafka took is done or cancelled, whatever
    write after its transaction failed; no run is listed as running. ``settled``: the runs
    seen so before (it is final), which are not asked again."""
    published = seen.published()
    for run_id in sorted(published - settled):
        shown = world.call("coordinator", "GET", f"/runs/{run_id}", query={"customers": "false"})
        assert shown.body["state"] in ("done", "cancelled"), (run_id, shown.body["state"])
        assert shown.body["counts"]["pending"] == 0, shown.body
        settled.add(run_id)
    listed = world.call("coordinator", "GET", "/runs", query={"limit": "100"}).body
    running = [run["runId"] for run in listed["runs"] if run["state"] == "running"]
    assert not running, f"listed as running, settled: {running}"
    unlisted = published - {run["runId"] for run in listed["runs"]}
    assert len(listed["runs"]) == 100 or not unlisted, f"Kafka took {unlisted}, unlisted"
