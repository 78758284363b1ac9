"""The web console as the coordinator serves it: its files without the token and under a
strict policy, the CRM open to it by CORS only, a bill's text, a run's customers by page,
the billing period's pattern and the answers its period pages read. The pages themselves
are tested in a browser (tests/e2e/test_console.py)."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

from functions.console import assets
from functions.runs.status import MAX_RUN_SIZE
from functions.storage import Job
from functions.storage.keys import bill_name
from functions.wire.identifiers import WorkflowId
from runtime.aws_lambda.http import HttpAdapter
from runtime.http_function import HttpFunction
from tests.unit.harness import (
    TOKEN,
    Harness,
    S3Harness,
    client,
    function_url_event,
    s3_requests,
    start_run,
)

CONSOLE = "http://127.0.0.1:3007"  # the coordinator's origin, as CONSOLE_ORIGINS has it
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/console/", "text/html"),
        ("/console", "text/html"),
        ("/console/app.js", "text/javascript"),
        ("/console/periods.js", "text/javascript"),
        ("/console/style.css", "text/css"),
    ],
)
def test_the_console_files_are_served_without_the_token(
    guarded: Harness, path: str, kind: str
) -> None:
    response = client("coordinator").get(path)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith(kind)
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'self';" in policy
    assert "unsafe" not in policy
    assert "connect-src 'self' http://127.0.0.1:3008;" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_page_holds_no_inline_script_or_style(guarded: Harness) -> None:
    page = client("coordinator").get("/console/").get_data(as_text=True)
    assert re.findall(r"<script[^>]*>", page) == ['<script type="module" src="/console/app.js">']
    assert "<style" not in page and " style=" not in page and " on" not in page.lower()
    assert '<meta name="crm-url" content="http://127.0.0.1:3008">' in page
    # The coordinator's own limit, which the start form splits runs by.
    assert f'<meta name="max-customers-per-run" content="{MAX_RUN_SIZE}">' in page


def test_every_script_module_is_served_under_the_policy_and_imports_only_served_ones(
    guarded: Harness,
) -> None:
    served = assets()
    scripts = [name for name in served if name.endswith(".js")]
    assert {"app.js", "api.js", "runs.js", "customers.js", "start.js", "periods.js"} <= set(scripts)
    for name in scripts:
        response = client("coordinator").get(f"/console/{name}")
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/javascript")
        assert "script-src 'self';" in response.headers["Content-Security-Policy"]
        text = response.get_data(as_text=True)
        assert len(text.splitlines()) < 250, f"{name}: a module a subject, under 250 lines"
        for imported in re.findall(r'from "\./([^"]+)"', text):
            assert imported in served, f"{name} imports {imported}, which is not served"
        # What it shows is text (elements.js: h()), never markup parsed from what it read.
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in text, f"{name} uses {sink}"


def test_the_page_carries_the_documents_billing_period_pattern_and_a_way_to_the_periods(
    guarded: Harness,
) -> None:
    coordinator = client("coordinator")
    page = coordinator.get("/console/").get_data(as_text=True)
    found = re.search(r'<meta name="billing-period-pattern" content="([^"]*)">', page)
    assert found, "the page names the pattern its period inputs take"
    document = coordinator.get("/openapi.json").get_json()
    body = document["components"]["schemas"]["RunRequest"]["properties"]["billingPeriod"]
    books_period = document["paths"]["/periods/{period}"]["get"]["parameters"][0]
    assert books_period["name"] == "period"
    # An input's pattern is anchored by the browser; the document's carries its anchors.
    assert f"^{html.unescape(found[1])}$" == body["pattern"] == books_period["schema"]["pattern"]
    assert '<a href="#/periods">Periods</a>' in page


def test_the_period_answers_hold_what_the_console_reads_of_them(harness: Harness) -> None:
    """The keys periods.js and runs.js read, in the coordinator's answers: a run of a period,
    a second one that finds its customers billed before, the period's books, and the bill
    read through the run that wrote it, as the console links it."""
    coordinator = client("coordinator")
    harness.services.seeded_customers()
    period = {"billingPeriod": "2026-11"}
    first = coordinator.post("/", json={"customerIdentifiers": ["1"], **period}).get_json()
    workflow_id = WorkflowId(first["workflows"][0]["workflowId"])
    text = "Bill for John Doe\n"
    assert harness.services.context.bills.create(
        "2026-11/customer-bill-1.txt", text, workflow_id, "t"
    )
    second = coordinator.post("/", json={"customerIdentifiers": ["1", "2"], **period}).get_json()
    assert (second["billingPeriod"], second["billedBefore"]) == ("2026-11", ["1"])

    run = coordinator.get(f"/runs/{second['runId']}?limit=50&after=0").get_json()
    assert (run["billingPeriod"], run["billedBefore"]) == ("2026-11", 1)
    billed_before = run["customers"][0]
    assert billed_before["billedBefore"] is True and billed_before["billedBy"] == first["runId"]
    listed = coordinator.get("/runs?limit=20").get_json()["runs"]
    assert {r["billingPeriod"] for r in listed} == {"2026-11"}

    books = coordinator.get("/periods/2026-11?limit=50").get_json()
    assert books["totals"] == {"customers": 8, "billed": 1, "failed": 0, "unbilled": 7}
    assert books["customers"][0]["billedBy"] == first["runId"] and books["next"] is None
    shown = coordinator.get(f"/runs/{billed_before['billedBy']}/bills/1")
    assert shown.status_code == 200 and shown.get_data(as_text=True) == text
    read: dict[str, tuple[str, ...]] = {
        "periods.js": ("billedBy", "failedIn", "reason", "totals", "next"),
        "runs.js": ("billingPeriod", "billedBefore", "billedBy"),
        "start.js": ("billedBefore",),
    }
    for script, keys in read.items():
        served = coordinator.get(f"/console/{script}").get_data(as_text=True)
        assert all(f".{key}" in served for key in keys), script


def test_the_console_serves_only_its_own_files(guarded: Harness) -> None:
    for path in ("/console/secrets.json", "/console/..%2Fmain.py", "/console/app.js/x"):
        response = client("coordinator").get(path)
        assert response.status_code in (401, 404), path  # a deeper path is not public
    unknown = client("coordinator").get("/console/x.js")
    assert unknown.status_code == 404
    assert "the console has no file 'x.js'" in unknown.get_json()["detail"]
    # Nothing else the coordinator answers is public because the console is.
    assert client("coordinator").get("/runs").status_code == 401


def test_the_crm_lets_the_consoles_origin_read_its_answers_refusals_too(
    guarded: Harness,
) -> None:
    crm = client("crm")
    preflight = crm.options(
        "/customers",
        headers={
            "Origin": CONSOLE,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == CONSOLE
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    denied = crm.get("/", headers={"Origin": CONSOLE})
    assert denied.status_code == 401
    assert denied.headers["Access-Control-Allow-Origin"] == CONSOLE
    page = crm.get("/?limit=2", headers={"Origin": CONSOLE, **BEARER})
    assert page.status_code == 200
    assert page.headers["Access-Control-Expose-Headers"] == "Link, X-Request-Id"
    assert page.headers["Vary"] == "Origin"


def test_another_origin_gets_no_cors_and_no_preflight(guarded: Harness) -> None:
    crm = client("crm")
    elsewhere = {"Origin": "http://evil.example", "Access-Control-Request-Method": "GET"}
    refused = crm.options("/", headers=elsewhere)
    assert refused.status_code == 401  # as any request without the token
    assert "Access-Control-Allow-Origin" not in refused.headers
    answered = crm.get("/?limit=1", headers={"Origin": "http://evil.example", **BEARER})
    assert answered.status_code == 200
    assert "Access-Control-Allow-Origin" not in answered.headers


def test_a_bill_is_read_as_the_bill_object_holds_it(harness: Harness) -> None:
    run = start_run(["1", "2"])
    workflow_id = WorkflowId(run["workflows"][0]["workflowId"])
    text = "Bill for John Doe\n  connection 8179: €12,50\n"
    assert harness.services.context.bills.create(
        bill_name("1", workflow_id), text, workflow_id, "t"
    )
    coordinator = client("coordinator")
    shown = coordinator.get(f"/runs/{run['runId']}/bills/1")
    assert shown.status_code == 200
    assert shown.get_data(as_text=True) == text
    assert shown.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert 'filename="customer-bill-1.txt"' in shown.headers["Content-Disposition"]
    missing = coordinator.get(f"/runs/{run['runId']}/bills/2")
    assert missing.status_code == 404
    assert "has no bill for customer '2'" in missing.get_json()["detail"]
    assert coordinator.get("/runs/nope/bills/1").status_code == 400


def test_a_runs_customers_come_a_page_at_a_time(s3_harness: S3Harness) -> None:
    context = s3_harness.services.context
    run = start_run([str(n) for n in range(1, 8)])
    for number in (2, 5, 6):
        workflow = run["workflows"][number - 1]
        wid = WorkflowId(workflow["workflowId"])
        context.failures.record(_job(wid, workflow["customerIdentifier"]), f"reason {number}", "t")
    coordinator = client("coordinator")
    first = coordinator.get(f"/runs/{run['runId']}?limit=3").get_json()
    assert [c["customerIdentifier"] for c in first["customers"]] == ["1", "2", "3"]
    assert (first["next"], first["counts"]["failed"], first["total"]) == (3, 3, 7)
    last = coordinator.get(f"/runs/{run['runId']}?limit=3&after=6").get_json()
    assert ([c["customerIdentifier"] for c in last["customers"]], last["next"]) == (["7"], None)

    before = s3_requests()
    coordinator.get(f"/runs/{run['runId']}?customers=false")
    counts_only = s3_requests() - before
    before = s3_requests()
    failed = coordinator.get(f"/runs/{run['runId']}?state=failed&limit=2&after=2").get_json()
    # The page's failures, 5 and 6, are read; the first failure, 2, is not shown nor read;
    # one more listing says which pending customers were asked.
    assert s3_requests() - before == counts_only + 1 + 2
    assert [(c["customerIdentifier"], c["reason"]) for c in failed["customers"]] == [
        ("5", "reason 5"),
        ("6", "reason 6"),
    ]
    assert failed["next"] is None
    whole = coordinator.get(f"/runs/{run['runId']}").get_json()
    assert "next" not in whole and len(whole["customers"]) == 7
    assert coordinator.get(f"/runs/{run['runId']}?limit=0").status_code == 400


def _job(workflow_id: WorkflowId, customer: str) -> Job:
    at = "2021-03-23T18:21:47.000Z"
    return Job(workflow_id, customer, at, at)


def test_behind_a_function_url_the_console_and_its_cors_are_the_same(guarded: Harness) -> None:
    def get(role: str, path: str, method: str = "GET", **headers: str) -> dict[str, Any]:
        adapter = HttpAdapter(HttpFunction(role, lambda: guarded.services))
        return adapter(function_url_event(method, path, headers))

    page = get("coordinator", "/console/")
    assert page["statusCode"] == 200
    assert page["headers"]["Content-Type"].startswith("text/html")
    assert "script-src 'self';" in page["headers"]["Content-Security-Policy"]
    assert '<script type="module" src="/console/app.js">' in page["body"]
    preflight = get(
        "crm", "/customers", "OPTIONS", origin=CONSOLE, **{"access-control-request-method": "POST"}
    )
    assert preflight["statusCode"] == 204
    assert preflight["headers"]["Access-Control-Allow-Origin"] == CONSOLE
