"""What an answer to ``POST /`` promises about Kafka: a 503 means nothing was published, a
202 that every workflow is on workflow-queue, and a run's state follows what Kafka took,
whatever S3 write after it failed; no client's Idempotency-Key reaches an internal claim."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any

from botocore.exceptions import EndpointConnectionError

from functions.errors import PublishFailed
from functions.runs import starter
from functions.runs.starter import Coordination
from functions.storage import IdempotencyRecord, Run, keys
from functions.wire.messages import Outgoing
from tests.unit.harness import Harness, S3Harness, client
from tests.unit.runs_by_hand import bill_every_published, fail, ids_of, published_workflows


def post(customers: list[str], **headers: str) -> Any:
    return client("coordinator").post("/", json={"customerIdentifiers": customers}, headers=headers)


def failing_run_writes_after_commit(harness: S3Harness) -> Callable[[], None]:
    """S3 refuses every write of a run's record once Kafka committed; the undo."""
    committed = {"yes": False}
    publish = harness.publisher.publish

    def publish_then_fail(
        messages: Sequence[Outgoing], before_commit: Callable[[], None] = lambda: None
    ) -> None:
        publish(messages, before_commit)
        committed["yes"] = True

    def refuse(params: dict[str, Any], **_: Any) -> None:
        if committed["yes"] and params["Key"].startswith(keys.RUNS):
            raise EndpointConnectionError(endpoint_url="http://moto")

    harness.publisher.publish = publish_then_fail  # type: ignore[method-assign]
    events = harness.s3.meta.events
    events.register("before-parameter-build.s3.PutObject", refuse)

    def undo() -> None:
        events.unregister("before-parameter-build.s3.PutObject", refuse)
        harness.publisher.publish = publish  # type: ignore[method-assign]

    return undo


def test_a_post_kafka_took_is_a_202_though_the_write_after_it_failed(s3_harness: S3Harness) -> None:
    undo = failing_run_writes_after_commit(s3_harness)
    response = post(["1", "2"], **{"Idempotency-Key": "k"})
    undo()
    assert response.status_code == 202, response.get_json()
    assert len(published_workflows(s3_harness)) == 2
    again = post(["1", "2"], **{"Idempotency-Key": "k"})
    assert again.get_json()["runId"] == response.get_json()["runId"]


def test_a_run_kafka_took_settles_when_billed_though_its_record_never_said_so(
    s3_harness: S3Harness,
) -> None:
    undo = failing_run_writes_after_commit(s3_harness)
    run = post(["1", "2"]).get_json()
    undo()
    shown = client("coordinator").get(f"/runs/{run['runId']}").get_json()
    assert (shown["state"], shown["published"]) == ("running", False), "nothing of it seen yet"
    bill_every_published(s3_harness, {run["runId"]})
    shown = client("coordinator").get(f"/runs/{run['runId']}").get_json()
    assert (shown["state"], shown["published"], shown["done"]) == ("done", True, True)
    cancel = client("coordinator").post(f"/runs/{run['runId']}/cancel")
    assert cancel.status_code == 409
    (listed,) = client("coordinator").get("/runs").get_json()["runs"]
    assert listed["state"] == "done"


def test_a_run_kafka_took_is_published_once_one_of_its_workflows_is_seen(
    s3_harness: S3Harness,
) -> None:
    undo = failing_run_writes_after_commit(s3_harness)
    run = post(["1", "2"]).get_json()
    undo()
    fail(s3_harness.services.context, ids_of(run)["1"], "1")
    shown = client("coordinator").get(f"/runs/{run['runId']}").get_json()
    assert (shown["state"], shown["published"]) == ("running", True)
    record = s3_harness.services.run_records.runs.get(run["runId"])
    assert record is not None and record.published, "kept, for the next look"


def test_a_503_from_post_means_nothing_was_published(s3_harness: S3Harness) -> None:
    def refuse_the_record(params: dict[str, Any], **_: Any) -> None:
        if params["Key"].startswith(keys.RUNS):
            raise EndpointConnectionError(endpoint_url="http://moto")

    events = s3_harness.s3.meta.events
    events.register("before-parameter-build.s3.PutObject", refuse_the_record)
    s3_down = post(["1"])
    events.unregister("before-parameter-build.s3.PutObject", refuse_the_record)
    s3_harness.publisher.fail = True
    kafka_down = post(["1"])
    for response in (s3_down, kafka_down):
        assert response.status_code == 503
        error = response.get_json()["detail"]
        assert "nothing was published" in error or "none was published" in error, error
    assert s3_harness.publisher.published == []
    assert client("coordinator").get("/runs").get_json()["runs"] == []


def test_a_client_key_shaped_like_an_earlier_retry_claim_is_not_taken_for_one(
    harness: Harness,
) -> None:
    context = harness.services.context
    run = post(["1", "2"]).get_json()
    fail(context, ids_of(run)["1"], "1")
    digest = hashlib.sha256(json.dumps(["1"]).encode()).hexdigest()[:32]
    mimic = post(["1"], **{"Idempotency-Key": f"retry:{run['runId']}:{digest}"})
    assert mimic.status_code == 202
    retried = client("coordinator").post(f"/runs/{run['runId']}/retry").get_json()
    assert retried["runId"] != mimic.get_json()["runId"]
    assert (retried["retryOf"], [w["customerIdentifier"] for w in retried["workflows"]]) == (
        run["runId"],
        ["1"],
    )


def test_a_client_key_an_earlier_version_claimed_for_its_own_run_is_refused(
    harness: Harness,
) -> None:
    runs = harness.services.run_records.runs
    tick = "2026-12-01T06:00 UTC"
    runs.claim(f"schedule:{tick}:0", IdempotencyRecord("run-20261201T060000-0000000a", "x"))
    runs.save(Run("run-20261201T060000-0000000a", "t", ("1",), scheduled_for=tick))
    digest = hashlib.sha256(json.dumps(["1"]).encode()).hexdigest()
    runs.claim(f"retry:{tick}", IdempotencyRecord("run-20261201T060000-0000000a", digest))
    response = post(["1"], **{"Idempotency-Key": f"retry:{tick}"})
    assert response.status_code == 422
    assert "taken by a run the coordinator started itself" in response.get_json()["detail"]


def test_a_post_again_of_a_run_kafka_took_whose_record_never_said_so_is_a_replay(
    s3_harness: S3Harness,
) -> None:
    """Kafka took the run, the record's ``published`` write failed, every customer was
    billed: the same request again answers the same run, replayed, and sends nothing."""
    undo = failing_run_writes_after_commit(s3_harness)
    body = {"customerIdentifiers": ["1", "2"], "billingPeriod": "2026-11"}
    first = client("coordinator").post("/", json=body, headers={"Idempotency-Key": "k"})
    undo()
    assert first.status_code == 202
    bill_every_published(s3_harness, {first.get_json()["runId"]})
    again = client("coordinator").post("/", json=body, headers={"Idempotency-Key": "k"})
    assert again.get_json()["runId"] == first.get_json()["runId"]
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert len(published_workflows(s3_harness)) == 2, "nothing sent a second time"
    listed = client("coordinator").get("/runs").get_json()["runs"]
    assert [run["runId"] for run in listed] == [first.get_json()["runId"]], "listed since"


def test_a_post_kafka_refused_leaves_the_run_a_concurrent_post_of_its_key_published(
    harness: Harness,
) -> None:
    """The same key sent twice at once (a client's timeout): the second publishes the run
    the first saved, then Kafka refuses the first. Nothing is removed on a refusal: the
    run the second answered 202 for is there, and listed."""
    publish = harness.publisher.publish
    second: dict[str, Any] = {}

    def first_refused_after_the_second_went_out(
        messages: Sequence[Outgoing], before_commit: Callable[[], None] = lambda: None
    ) -> None:
        before_commit()  # the first attempt's save
        stores = Coordination(publish, harness.services.run_records)
        second["run"] = starter.start(["1", "2"], "k", stores, "2026-11").run.summary()
        raise PublishFailed("Kafka did not take the message(s), so none was published")

    harness.publisher.publish = first_refused_after_the_second_went_out  # type: ignore[method-assign]
    body = {"customerIdentifiers": ["1", "2"], "billingPeriod": "2026-11"}
    first = client("coordinator").post("/", json=body, headers={"Idempotency-Key": "k"})
    harness.publisher.publish = publish  # type: ignore[method-assign]
    assert first.status_code == 503
    assert len(harness.publisher.published) == 2, "the second's workflows are on Kafka"
    run_id = second["run"]["runId"]
    shown = client("coordinator").get(f"/runs/{run_id}")
    assert (shown.status_code, shown.get_json()["published"]) == (200, True)
    assert [run["runId"] for run in client("coordinator").get("/runs").get_json()["runs"]] == [
        run_id
    ]
