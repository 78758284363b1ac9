"""A billing run through the Lambda adapters alone: a function URL event starts it, and an
event source mapping of our own (tests/helpers/lambda_esm.py) invokes the Kafka-triggered functions
in fresh processes on the local broker and S3 server."""

from __future__ import annotations

import json
import time
from dataclasses import replace

from functions.crm.customer_file import seed_customers
from functions.storage.keys import bill_name
from functions.wire.identifiers import WorkflowId
from runtime.config import REPO, StackSettings
from tests.helpers.lambda_esm import EventSourceMapping, invoke
from tests.helpers.stores import assert_billed_exactly_once, bill_names, job_outcomes

TOKEN = "lambda-e2e-token-Qx7"


def test_a_run_through_the_lambda_adapters_bills_every_seed_customer_once(
    settings: StackSettings,
) -> None:
    settings = replace(settings, auth_token=TOKEN)
    customers = [customer.customer_id for customer in seed_customers()]
    url_event = json.loads((REPO / "tests" / "data" / "lambda" / "function-url.json").read_text())
    url_event["headers"]["authorization"] = f"Bearer {TOKEN}"
    url_event["body"] = json.dumps({"customerIdentifiers": customers})
    started = invoke("coordinator", url_event, settings)
    assert started is not None and started.returncode == 0, started
    response = json.loads(started.stdout)
    assert response["statusCode"] == 202, response
    accepted = json.loads(response["body"])
    wanted = [
        bill_name(w["customerIdentifier"], WorkflowId(w["workflowId"]))
        for w in accepted["workflows"]
    ]

    mappings = {
        function: EventSourceMapping(settings, function)
        for function in ("engine-start", "crm-answer", "engine-complete")
    }
    before_kill = len(bill_names(settings))
    killed = False

    def some_bills_written() -> bool:
        return len(bill_names(settings)) > before_kill

    try:
        deadline = time.monotonic() + 240
        while (
            len(bill_names(settings)) < len(wanted)
            or job_outcomes(settings)["pending"]
            or any(mapping.retrying for mapping in mappings.values())
        ):
            assert time.monotonic() < deadline, f"not billed in time: {job_outcomes(settings)}"
            for function, mapping in mappings.items():
                # engine-complete's first batch is killed once it has written a bill.
                kill = function == "engine-complete" and not killed
                mapping.step(some_bills_written if kill else None)
                killed = killed or (kill and mapping.failures == ["killed"])
    finally:
        for mapping in mappings.values():
            mapping.close()

    complete = mappings["engine-complete"]
    assert complete.failures == ["killed"], complete.failures
    assert complete.invocations >= 2, "the killed batch was retried"
    assert all(not m.failures for f, m in mappings.items() if f != "engine-complete")
    outcomes = job_outcomes(settings)
    assert_billed_exactly_once(
        settings, outcomes, wanted, [w["workflowId"] for w in accepted["workflows"]]
    )
