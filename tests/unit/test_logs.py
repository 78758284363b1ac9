"""The logs: JSON lines about a workflow and its run, and never a secret."""

from __future__ import annotations

import io
import json
import logging

import pytest

from functions.context import FunctionContext
from functions.log_context import about_run, about_workflow
from functions.wire.identifiers import WorkflowId
from runtime.config import FunctionSettings
from runtime.kafka.invoker import Invoker
from runtime.kafka.records import Record
from runtime.logs import JsonFormatter, TextFormatter, configure_logging
from runtime.triggers import BY_FUNCTION
from tests.unit.harness import TOKEN, Harness, client

RUN = "run-20261128T001500-0a1b2c3d"


def test_no_token_reaches_a_log_line(guarded: Harness, log_lines: io.StringIO) -> None:
    app = client("coordinator")
    app.post("/", json={"customerIdentifiers": ["1"]}, headers={"Authorization": f"Bearer {TOKEN}"})
    app.post("/", json={"customerIdentifiers": ["1"]}, headers={"Authorization": "Bearer guess"})
    logging.getLogger("careless").error("a library logs its config: token=%s", TOKEN)
    text = log_lines.getvalue()
    assert "billing run" in text  # the requests were logged at all
    assert TOKEN not in text
    assert "guess" not in text
    assert "token=***" in text


def test_settings_never_show_their_secrets() -> None:
    settings = FunctionSettings(auth_token=TOKEN, kafka_sasl_password="kafka-secret")
    assert TOKEN not in repr(settings)
    assert "kafka-secret" not in repr(settings)
    assert sorted(settings.secrets()) == sorted(["kafka-secret", TOKEN])


def _json_lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_each_log_line_about_a_workflow_names_it_and_its_run(
    context: FunctionContext, unit_settings: FunctionSettings, log_lines: io.StringIO
) -> None:
    workflow = {
        "workflow-type": "bill-generation",
        "workflow-id": f"{RUN}-7",
        "create-time": "",
        "payload": {"customerIdentifier": "1"},
    }
    invoke = Invoker(BY_FUNCTION["engine-start"], unit_settings, context, sleep=lambda _: None)
    invoke(Record(json.dumps(workflow).encode(), "workflow-queue"))
    lines = [line for line in _json_lines(log_lines) if str(line["logger"]).startswith("functions")]
    assert lines, "engine-start logged nothing"
    for line in lines:
        assert (line["workflowId"], line["runId"]) == (f"{RUN}-7", RUN)
        assert {"time", "level", "process", "logger", "message"} <= set(line)
    logging.getLogger("elsewhere").info("not about a workflow")
    assert "workflowId" not in _json_lines(log_lines)[-1]


def test_a_workflow_of_no_run_is_logged_without_one(log_lines: io.StringIO) -> None:
    with about_workflow(WorkflowId(1616523703935.42)):
        logging.getLogger("x").info("lab workflow")
    with about_run(RUN):
        logging.getLogger("x").info("a run")
    lab, run = _json_lines(log_lines)
    assert (lab["workflowId"], lab["runId"]) == ("1616523703935.42", None)
    assert run["runId"] == RUN and "workflowId" not in run


def test_text_logs_for_people_carry_the_same_context_and_blank_secrets() -> None:
    formatter = TextFormatter("stack", [TOKEN])
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "token %s", (TOKEN,), None)
    with about_workflow(WorkflowId(f"{RUN}-1")):
        line = formatter.format(record)
    assert line.endswith(f"token *** [workflowId={RUN}-1 runId={RUN}]")


def test_aws_secrets_from_the_environment_are_blanked_too(
    capsys: pytest.CaptureFixture[str],
) -> None:
    aws_secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    env = {"AWS_SECRET_ACCESS_KEY": aws_secret, "BILLING_TOKEN": TOKEN}
    root = logging.getLogger()
    saved = root.handlers[:]
    try:
        configure_logging(FunctionSettings.from_env(env), role="test")
        logging.getLogger("botocore.careless").warning("signing with %s and %s", aws_secret, TOKEN)
    finally:
        root.handlers[:] = saved
    line = json.loads(capsys.readouterr().err.splitlines()[-1])
    assert line["message"] == "signing with *** and ***"


def test_a_token_after_a_line_break_or_a_tab_is_blanked_in_a_json_line() -> None:
    """JSON writes a line break as ``\\n``: the token after it follows a letter there, and
    must be blanked all the same (as are a secret of the configuration that JSON escapes)."""
    named = "bt_" + "A1b2" * 10 + "xyz"
    odd_secret = 'with"quote\\and-backslash'
    formatter = JsonFormatter("test", [odd_secret])
    for message in (f"a body:\n{named}", f"a field\t{named}", f"the token {odd_secret}"):
        record = logging.LogRecord("careless", logging.ERROR, __file__, 1, message, None, None)
        line = formatter.format(record)
        assert named not in json.loads(line)["message"], message
        assert odd_secret not in json.loads(line)["message"], message
