"""Fuzzing the parsers and both HTTP functions: whatever arrives, the answer is a message
or a clean refusal, never a crash, a 5xx or a partial run."""

from __future__ import annotations

import json
from functools import cache
from typing import Any
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.errors import MalformedMessage
from functions.wire.messages import Answer, Question, WorkflowMessage, decode_object
from tests.unit.harness import Harness
from tests.unit.harness import client as new_client

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
LAB_KEYS = st.sampled_from(
    [
        "workflow-type",
        "workflow-id",
        "payload",
        "customerIdentifier",
        "questionCategory",
        "qaIdentifier",
        "answer",
        "error",
        "customerId",
    ]
)
# Objects shaped like the lab's messages, with any values: the parsers' hard cases.
LAB_LIKE = st.recursive(
    JSON,
    lambda children: st.dictionaries(LAB_KEYS | st.text(max_size=5), children, max_size=6),
    max_leaves=16,
)
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))


@cache
def client(target: str) -> Any:
    """One app per target: building it per example would be most of the test's time."""
    return new_client(target)


@FUZZ
@given(raw=st.binary(max_size=200) | LAB_LIKE.map(lambda v: json.dumps(v).encode()))
def test_message_parsers_type_a_message_or_say_it_is_malformed(raw: bytes) -> None:
    for kind in (WorkflowMessage, Question, Answer):
        try:
            message = kind.from_wire(decode_object(raw))
        except MalformedMessage as exc:
            assert str(exc)
            continue
        # Whatever was accepted can go out again as it came in.
        assert kind.from_wire(message.to_wire()) == message


BODIES = (
    st.binary(max_size=300)
    | JSON.map(lambda v: json.dumps(v).encode())
    | st.lists(JSON, max_size=5).map(lambda ids: json.dumps({"customerIdentifiers": ids}).encode())
    | st.lists(st.text(max_size=70), min_size=1, max_size=5).map(
        lambda ids: json.dumps({"customerIdentifiers": ids}).encode()
    )
)
CONTENT_TYPES = st.sampled_from(["application/json", "text/plain", "", "application/x+json"])


@FUZZ
@given(body=BODIES, content_type=CONTENT_TYPES)
def test_the_coordinator_answers_every_body_with_202_or_a_named_4xx(
    harness: Harness, body: bytes, content_type: str
) -> None:
    published = harness.publisher.published
    before = len(published)
    response = client("coordinator").post("/", data=body, content_type=content_type or None)
    if response.status_code == 202:
        workflows = response.get_json()["workflows"]
        assert len(published) - before == len(workflows)
    else:
        assert 400 <= response.status_code < 500, response.get_data()
        assert response.get_json()["detail"]
        assert len(published) == before, "a refused request published something"


@FUZZ
@given(
    path=st.sampled_from(["/", "/customers", "/customers/1", "/customers/x/y"])
    | st.text(max_size=20).map(lambda t: "/customers/" + quote(t, safe="")),
    query=st.dictionaries(st.sampled_from(["customerId", "x"]), st.text(max_size=70), max_size=2),
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
    body=BODIES,
)
def test_the_crm_answers_every_request_without_a_5xx(
    harness: Harness, path: str, query: dict[str, str], method: str, body: bytes
) -> None:
    response = client("crm").open(
        path, method=method, query_string=query, data=body, content_type="application/json"
    )
    assert response.status_code < 500, response.get_data()
    if response.status_code >= 400:
        assert response.get_json()["detail"]
