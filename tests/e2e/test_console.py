"""The web console in a real browser (Chromium, driven by Playwright), on the real stack:
the coordinator serving the console, the CRM allowing it, the runtime, Kafka and S3."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import requests
from playwright.sync_api import Browser, Dialog, Page, Request, expect

from functions.storage.bucket import Bucket
from runtime.config import StackSettings
from runtime.services import s3_client
from tests.helpers.browser import api, facts, open_console, row_of, screenshot, start_run
from tests.helpers.cli import TOKEN
from tests.helpers.processes import Processes
from tests.helpers.waiting import wait_for

pytest_plugins = ["tests.helpers.browser"]  # the browser, the console's stack, a tab
WAIT_MS = 120_000  # for a run to finish on a loaded two-core machine
# What the page shows after a click is waited for (expect polls), up to 30 s rather than
# Playwright's 5: on two cores shared by two test workers an answer can take longer.
expect.set_options(timeout=30_000)


def test_the_console_is_served_without_the_token_under_a_strict_policy(
    console: StackSettings, page: Page
) -> None:
    opened = page.goto(f"{console.coordinator_url}/console/")
    assert opened is not None and opened.status == 200
    assert "script-src 'self';" in opened.headers["content-security-policy"]
    expect(page.get_by_role("dialog", name="Bearer token")).to_be_visible()
    for path, kind in [("/console/", "text/html"), ("/console/app.js", "text/javascript")]:
        served = requests.get(f"{console.coordinator_url}{path}", timeout=10)
        assert served.status_code == 200
        assert served.headers["Content-Type"].startswith(kind)
        policy = served.headers["Content-Security-Policy"]
        assert "script-src 'self';" in policy
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert f"connect-src 'self' {console.crm_url};" in policy
    html = requests.get(f"{console.coordinator_url}/console/", timeout=10).text
    assert "<script>" not in html and " style=" not in html, "nothing inline"
    assert requests.get(f"{console.coordinator_url}/console/x.js", timeout=10).status_code == 404
    # The console opens no way around the token: its API calls are the API's.
    assert requests.get(f"{console.coordinator_url}/runs", timeout=10).status_code == 401
    denied = requests.get(
        f"{console.crm_url}/", headers={"Origin": console.coordinator_url}, timeout=10
    )
    assert denied.status_code == 401
    assert denied.headers["Access-Control-Allow-Origin"] == console.coordinator_url
    elsewhere = requests.get(
        f"{console.crm_url}/", headers={"Origin": "http://evil.example"}, timeout=10
    )
    assert "Access-Control-Allow-Origin" not in elsewhere.headers


def test_a_run_of_every_customer_reaches_100_percent_and_shows_its_bills(
    console: StackSettings, processes: Processes, page: Page, tmp_path: Path
) -> None:
    processes.runtime("all", console)
    open_console(page, console)
    expect(page.get_by_role("heading", name="Runs")).to_be_visible()

    run_id = start_run(page, None)
    expect(page.locator(".big-progress")).to_have_attribute("value", "8", timeout=WAIT_MS)
    expect(page.get_by_text("100%")).to_be_visible()
    assert facts(page)["State"] == "done"
    assert facts(page)["Billed"] == "8"
    screenshot(page, "run-page")

    page.get_by_role("link", name="Read the bill").first.click()
    expect(page.get_by_role("heading", name="Bill of customer 1")).to_be_visible()
    shown = page.get_by_label("The bill's text").inner_text()
    stored = Bucket(s3_client(console), console.bills_bucket).get_bytes(
        f"{run_id}/customer-bill-1.txt"
    )
    assert stored is not None
    assert shown.strip() == stored.decode().strip()
    with page.expect_download() as downloading:
        page.get_by_role("button", name="Download customer-bill-1.txt").click()
    saved = tmp_path / "bill.txt"
    downloading.value.save_as(saved)
    assert saved.read_bytes() == stored

    page.get_by_role("link", name="Runs").first.click()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=run_id))
    expect(row).to_contain_text("done")
    expect(row.get_by_role("progressbar")).to_have_attribute("value", "8")


def test_a_failed_customer_shows_why_and_its_retry_is_listed(
    console: StackSettings, processes: Processes, page: Page
) -> None:
    processes.runtime("all", console)
    open_console(page, console)
    page.get_by_role("link", name="Start a run").first.click()
    page.get_by_label("Customer ids, separated by spaces, commas or lines").fill("7 7")
    page.get_by_role("button", name="Start the run").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "\"customerIdentifiers\"[1] repeats customer '7' of position 0; list each customer once"
    )
    run_id = start_run(page, "2, 99999")
    expect(page.get_by_text("100%")).to_be_visible(timeout=WAIT_MS)

    page.get_by_label("Show").select_option("failed")
    failed = page.get_by_role("row").filter(has_text="99999")
    expect(failed).to_contain_text("customer '99999' is not known to the CRM")
    expect(page.get_by_role("row")).to_have_count(2)  # the heading and 99999

    page.get_by_role("button", name="Retry the failed customers").click()
    expect(page.get_by_role("alert")).to_contain_text("Retry started: run run-")
    retry_link = page.locator("main p").get_by_role("link", name=re.compile("^run-"))
    expect(retry_link).to_be_visible()
    retry_id = retry_link.inner_text()
    assert retry_id != run_id

    page.get_by_role("link", name="Runs").first.click()
    retry_row = page.get_by_role("row").filter(has=page.get_by_role("link", name=retry_id))
    expect(retry_row).to_contain_text(f"retry of {run_id}")


def test_a_large_run_is_cancelled_once_confirmed_and_polled_only_while_shown(
    console: StackSettings, processes: Processes, page: Page
) -> None:
    # Without crm-answer no question is answered: the run stays running until cancelled.
    for function in ("engine-start", "engine-complete", "retry-unanswered"):
        processes.runtime(function, console)
    started = requests.post(
        console.coordinator_url,
        json={"customerIdentifiers": [str(n) for n in range(1, 5001)]},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=120,
    )
    assert started.status_code == 202, started.text
    run_id = started.json()["runId"]

    page.clock.install()  # the page's timers run when the test says, not by the clock
    polls: list[Request] = []
    page.on("request", lambda r: polls.append(r) if f"/runs/{run_id}?" in r.url else None)
    open_console(page, console, hash_=f"#/runs/{run_id}")
    expect(page.get_by_role("row")).to_have_count(51)  # a page of 50, not 5,000 rows
    assert facts(page)["State"] == "running"
    polls.clear()  # the page's first look, before and after the token
    for second in range(1, 4):
        with page.expect_response(lambda r: f"/runs/{run_id}?" in r.url):
            page.clock.run_for(1000)
        assert len(polls) == second, "one refresh a second"

    page.evaluate(
        "() => { Object.defineProperty(document, 'visibilityState', {value: 'hidden',"
        " configurable: true}); document.dispatchEvent(new Event('visibilitychange')); }"
    )
    page.clock.run_for(5000)
    page.get_by_role("button", name="Next page").click()  # a request of its own, to wait on
    expect(page.get_by_role("row").nth(1)).to_contain_text("51")
    assert len(polls) == 4, "no refresh while the tab is hidden"
    page.evaluate(
        "() => { Object.defineProperty(document, 'visibilityState', {value: 'visible',"
        " configurable: true}); document.dispatchEvent(new Event('visibilitychange')); }"
    )
    with page.expect_response(lambda r: f"/runs/{run_id}?" in r.url):
        page.clock.run_for(1000)

    asked: list[str] = []

    def answer(dialog: Dialog, accept: bool) -> None:
        asked.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda dialog: answer(dialog, accept=False))
    page.get_by_role("button", name="Cancel the run").click()
    expect(page.get_by_role("button", name="Cancel the run")).to_be_enabled()
    assert asked and asked[0].startswith(f"Cancel run {run_id}?")
    assert facts(page)["State"] == "running", "not cancelled without a yes"

    page.once("dialog", lambda dialog: answer(dialog, accept=True))
    page.get_by_role("button", name="Cancel the run").click()
    expect(page.get_by_role("alert")).to_contain_text(f"Run {run_id} cancelled.")
    expect(page.locator(".facts")).to_contain_text("cancelled")
    expect(page.get_by_role("button", name="Cancel the run")).to_be_disabled()
    status = requests.get(
        f"{console.coordinator_url}/runs/{run_id}?customers=false",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=30,
    ).json()
    assert status["state"] == "cancelled"


def test_a_customer_named_as_markup_shows_as_text(console: StackSettings, page: Page) -> None:
    raised: list[str] = []

    def noticed(dialog: Dialog) -> None:
        raised.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", noticed)
    open_console(page, console, hash_="#/customers")
    expect(page.get_by_role("row")).to_have_count(9)  # the 8 seed customers
    markup = "<img src=x onerror=alert(1)>"
    for label, value in [
        ("First name", markup),
        ("Last name", "Tables"),
        ("City", "<b>Delft</b>"),
        ("Connection id", "1"),
        ("Connection mandate", "1"),
    ]:
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_role("button", name="Add the customer").click()
    expect(page.get_by_role("alert")).to_contain_text(f"added: {markup} Tables")

    page.get_by_label("Starts with (name) or is (id)").fill("tab")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("row")).to_have_count(2)
    expect(page.get_by_role("cell", name=markup)).to_be_visible()
    expect(page.get_by_role("cell", name="<b>Delft</b>")).to_be_visible()
    assert page.locator("main img, main b").count() == 0

    page.get_by_label("Search by").select_option("id")
    page.get_by_label("Starts with (name) or is (id)").fill("3")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("row")).to_have_count(2)
    expect(page.get_by_role("cell", name="Pierre")).to_be_visible()
    assert raised == [], "a name ran as code"


def test_a_wrong_token_brings_the_prompt_back(console: StackSettings, page: Page) -> None:
    open_console(page, console, token="not-the-token")
    prompt = page.get_by_role("dialog", name="Bearer token")
    expect(prompt).to_contain_text("That token was not accepted")
    page.get_by_label("Token", exact=True).fill(TOKEN)
    page.get_by_role("button", name="Use this token").click()
    expect(prompt).to_be_hidden()
    expect(page.get_by_role("heading", name="Runs")).to_be_visible()
    assert TOKEN not in page.url
    page.get_by_role("button", name="Forget the token").click()
    expect(prompt).to_be_visible()


def test_the_console_works_by_keyboard_on_a_narrow_screen(
    console: StackSettings, processes: Processes, browser: Browser
) -> None:
    processes.runtime("all", console)
    context = browser.new_context(viewport={"width": 375, "height": 800})
    page = context.new_page()
    page.goto(f"{console.coordinator_url}/console/")
    expect(page.get_by_label("Token", exact=True)).to_be_focused()
    page.keyboard.type(TOKEN)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Runs")).to_be_visible()

    start = page.get_by_role("navigation", name="Main").get_by_role("link", name="Start a run")
    for _ in range(10):
        page.keyboard.press("Tab")
        if start.evaluate("link => link === document.activeElement"):
            break
    expect(start).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Start a run")).to_be_visible()
    page.get_by_label("These customers").focus()
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Customer ids, separated by spaces, commas or lines")).to_be_focused()
    page.keyboard.type("4 5")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"#/runs/run-"))
    expect(page.get_by_text("100%")).to_be_visible(timeout=WAIT_MS)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375, "no sideways scroll"
    screenshot(page, "run-page-375px")
    context.close()


# -- billing periods ---------------------------------------------------------------------

PERIOD = "2026-11"


def test_a_period_bills_each_customer_once_and_its_books_show_every_customer(
    console: StackSettings, processes: Processes, page: Page
) -> None:
    # 50 customers more than the seed's 8: the books take two pages of 50.
    fields = ("firstName", "lastName", "city", "connectionId", "connectionMandate")
    imported = [dict.fromkeys(fields, f"{n}") for n in range(50)]
    api("POST", f"{console.crm_url}/customers", json=imported)
    # Customer 4's workflow of the period fails: its run is cancelled before any function
    # runs, so engine-start ends it as cancelled.
    body = {"customerIdentifiers": ["4"], "billingPeriod": PERIOD}
    cancelled = api("POST", console.coordinator_url, json=body)["runId"]
    api("POST", f"{console.coordinator_url}/runs/{cancelled}/cancel")
    processes.runtime("all", console)

    open_console(page, console)
    first = start_run(page, "1 2", PERIOD)
    expect(page.get_by_text("100%")).to_be_visible(timeout=WAIT_MS)
    assert (facts(page)["Billing period"], facts(page)["Billed before"]) == (PERIOD, "0")

    second = start_run(page, "1 2 3", PERIOD)
    expect(page.get_by_role("alert")).to_contain_text(
        f"Started {second}. 2 customer(s) were billed in {PERIOD} already: not billed again."
    )
    expect(page.get_by_text("100%")).to_be_visible(timeout=WAIT_MS)
    assert (facts(page)["Billed"], facts(page)["Billed before"]) == ("3", "2")
    for customer in ("1", "2"):
        row = row_of(page, customer)
        expect(row).to_contain_text(f"billed before by {first}")
        expect(row.get_by_role("link", name=first)).to_have_attribute("href", f"#/runs/{first}")
    expect(row_of(page, "3")).not_to_contain_text("billed before")
    screenshot(page, "run-page-billed-before")
    row_of(page, "1").get_by_role("link", name="Read the bill").click()
    expect(page.get_by_role("heading", name="Bill of customer 1")).to_be_visible()
    expect(page.locator("main p")).to_contain_text(f"From run {first}.")
    expect(page.get_by_label("The bill's text")).to_contain_text("Bill for John Doe")

    page.get_by_role("link", name="Runs").first.click()
    for run_id in (first, second):
        row = page.get_by_role("row").filter(has=page.get_by_role("link", name=run_id))
        expect(row.get_by_role("link", name=PERIOD)).to_be_visible()
    wait_for(
        "the cancelled run's customer to fail",
        lambda: api("GET", f"{console.coordinator_url}/runs/{cancelled}")["counts"]["failed"],
    )
    page.get_by_role("link", name=PERIOD).first.click()

    expect(page.get_by_role("heading", name=f"Billing period {PERIOD}")).to_be_visible()
    expect(page.get_by_role("row")).to_have_count(51)  # a page of 50, and the heading
    assert facts(page) == {"Customers": "58", "Billed": "3", "Failed": "1", "Not billed": "54"}
    billed = row_of(page, "3")
    expect(billed.get_by_role("link", name=second)).to_be_visible()
    expect(billed.get_by_role("link", name="Read the bill")).to_have_attribute(
        "href", f"#/bill/{second}/3"
    )
    failed = row_of(page, "4")
    expect(failed).to_contain_text("failed")
    expect(failed).to_contain_text("cancelled")
    expect(failed.get_by_role("link", name=cancelled)).to_be_visible()
    expect(row_of(page, "5")).to_contain_text("not billed")
    screenshot(page, "period-books")

    page.get_by_label("Show").select_option("failed")
    expect(page.get_by_role("row")).to_have_count(2)
    expect(page.get_by_role("row").nth(1)).to_contain_text("cancelled")
    page.get_by_label("Show").select_option("unbilled")
    expect(page.get_by_role("row")).to_have_count(51)
    expect(page.get_by_role("button", name="Previous page")).to_be_disabled()
    page.get_by_role("button", name="Next page").click()
    expect(page.get_by_role("row")).to_have_count(5)  # 54 not billed: 50, then 4
    expect(page.get_by_role("cell", name="not billed")).to_have_count(4)
    expect(page.get_by_role("button", name="Next page")).to_be_disabled()
    # The totals stay those of the whole CRM, whatever page or filter is shown.
    assert facts(page)["Not billed"] == "54"

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Periods").click()
    page.locator("main p").get_by_role("link", name=PERIOD).click()  # of the recent runs
    expect(page.get_by_role("row")).to_have_count(51)


def test_a_bad_period_is_refused_in_the_servers_words(console: StackSettings, page: Page) -> None:
    document = requests.get(f"{console.coordinator_url}/openapi.json", timeout=10).json()
    schema = document["components"]["schemas"]["RunRequest"]["properties"]["billingPeriod"]
    open_console(page, console, hash_="#/start")
    period = page.get_by_label("Billing period", exact=True)
    # The document's pattern, which the browser anchors itself.
    assert f"^{period.get_attribute('pattern')}$" == schema["pattern"]
    expect(page.get_by_text("a quarter (2026-Q4)")).to_be_visible()
    mismatch = "input => input.validity.patternMismatch"
    for text, refused in [("2028-02-29", False), ("2026-Q4", False), ("2027-02-29", True)]:
        period.fill(text)
        assert period.evaluate(mismatch) is refused, text

    page.get_by_label("Customer ids, separated by spaces, commas or lines").fill("1")
    period.fill("2026-13")
    page.get_by_role("button", name="Start the run").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "\"billingPeriod\" is '2026-13', which is not a billing period; give YYYY-MM (a month:"
        " 2026-12), YYYY-MM-DD (a day: 2026-12-06)"
    )
    assert page.url.endswith("#/start"), "no run started"
    screenshot(page, "start-bad-period")
    assert api("GET", f"{console.coordinator_url}/runs")["runs"] == []

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Periods").click()
    expect(page.get_by_text("No recent run billed a period.")).to_be_visible()
    this_month = date.today().strftime("%Y-%m")  # the page's default, by the same clock
    expect(page.get_by_label("Billing period", exact=True)).to_have_value(this_month)
    page.get_by_label("Billing period", exact=True).fill("2026-Q5")
    page.get_by_role("button", name="Show the books").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "period='2026-Q5' is not a billing period; give YYYY-MM"
    )
    expect(page.get_by_role("table")).to_be_hidden()
