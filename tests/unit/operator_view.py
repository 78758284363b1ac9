"""What the model-based test (``test_operator_model.py``) reads back of the system: the
runs, workflows, bills, ticks and customers, from the buckets directly (the memory
buckets, or moto's store: ``World.stored``) and from the topics, so that its checks make
no request and meet no fault."""

from __future__ import annotations

from collections.abc import Iterator

from functions.storage import Run, keys, records
from functions.wire.identifiers import WorkflowId
from functions.wire.messages import Stream, WorkflowMessage
from runtime.config import FunctionSettings
from tests.unit.operator_world import World


class Observed:
    """The system as it stands; run records read once (what the checks use never changes)."""

    def __init__(self, world: World, settings: FunctionSettings) -> None:
        self.world = world
        self.settings = settings
        self.known_runs: dict[str, Run] = {}

    def ticks_ended(self, ticks: list[str]) -> list[str]:
        """Those of ``ticks`` whose first page is planned and which are open no more."""
        opened = set(self.world.stored(self.settings.jobs_bucket).names(keys.OPEN_TICKS))
        planned = self.ticks_planned(ticks)
        return [name for name in planned if keys.open_tick(name) not in opened]

    def ticks_planned(self, ticks: list[str]) -> list[str]:
        """Those of ``ticks`` whose first page is planned (the plans listed once)."""
        pages = set(self.world.stored(self.settings.jobs_bucket).names(keys.TICKS))
        return [name for name in ticks if keys.tick_page(name, 0) in pages]

    def run_ids(self) -> list[str]:
        """The runs whose workflows were published, in the order they were: the same on
        every replay of an example (their ids hold the time and a random part)."""
        return [r for r in dict.fromkeys(w.workflow_id.run_id or "" for w in self.workflows()) if r]

    def published(self) -> set[str]:
        """The runs Kafka took: those with a workflow on the topic, and those of a period
        that had none to send (every customer billed in it before)."""
        runs = self.runs()
        with_workflows = set(self.run_ids())
        nothing_to_send = {
            run_id for run_id, run in runs.items() if set(run.customer_ids) <= run.billed_before
        }
        return with_workflows | nothing_to_send

    def workflows(self) -> Iterator[WorkflowMessage]:
        self.world.sync_published()
        seen: set[str] = set()
        for message in self.world.topics[Stream.WORKFLOWS].messages:
            assert isinstance(message, WorkflowMessage)
            if message.workflow_id.key not in seen:
                seen.add(message.workflow_id.key)
                yield message

    def runs(self) -> dict[str, Run]:
        """Every run record there is, read once it says it was published (what the checks
        use never changes after); a record removed (Kafka refused its run) is forgotten."""
        stored = self.world.stored(self.settings.jobs_bucket)
        there = {keys.run_of_record(key): key for key in stored.names(keys.RUNS)}
        for run_id in set(self.known_runs) - set(there):
            del self.known_runs[run_id]
        for run_id, key in there.items():
            known = self.known_runs.get(run_id)
            if known is None or not known.published:
                self.known_runs[run_id] = records.to_run(stored.json(key))
        return self.known_runs

    def lineage(self, runs: dict[str, Run], workflow: str | WorkflowId) -> str:
        """The run a workflow's run retries, and so on up: its lineage's first run."""
        found = (workflow if isinstance(workflow, WorkflowId) else WorkflowId(workflow)).run_id
        assert found is not None
        run_id: str = found
        while (run := runs.get(run_id)) is not None and run.retry_of is not None:
            run_id = run.retry_of
        return run_id

    def bills(self) -> Iterator[tuple[str, str, str]]:
        """(its folder, the workflow that wrote it, its customer) of every bill."""
        stored = self.world.stored(self.settings.bills_bucket)
        for name in stored.names():
            customer_id = keys.customer_of_bill(name)
            assert customer_id is not None
            yield name.partition("/")[0], stored.metadata(name, "workflow-id"), customer_id

    def jobs_bucket_names(self, prefix: str) -> list[str]:
        return self.world.stored(self.settings.jobs_bucket).names(prefix)

    def crm_customers(self) -> dict[str, str]:
        """Every customer the CRM holds, and its city."""
        stored = self.world.stored(self.settings.customers_bucket)
        found: dict[str, str] = {}
        for key in stored.names(keys.CUSTOMERS):
            customer_id = keys.customer_id_of(key)
            if customer_id is not None:
                found[customer_id] = stored.json(key)["city"]
        return found
