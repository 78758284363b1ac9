"""The console by role, in a real browser on the real stack: with a named token of each role
made through the API (POST /tokens, as `billing tokens add` does), the header names the
token and its role, and the pages leave out what the role may not do; the API refuses it
regardless, and the console shows the refusal's own words."""

from __future__ import annotations

from dataclasses import replace

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from infra.provision import provision_buckets
from runtime.config import StackSettings
from tests.helpers.browser import api, open_console, screenshot, serve_console
from tests.helpers.processes import Processes

pytest_plugins = ["tests.helpers.browser"]  # the browser, a tab
expect.set_options(timeout=30_000)  # a loaded two-core machine (test_console.py)

RETRY = "Retry the failed customers"
CANCEL = "Cancel the run"


@pytest.fixture
def roles(settings: StackSettings, processes: Processes) -> StackSettings:
    """The console's coordinator and CRM with named tokens too, in a tokens bucket of the
    test's own. No runtime: a run started stays running, its Cancel enabled."""
    tokens_bucket = settings.bills_bucket.removesuffix("-bills") + "-tokens"
    stack = serve_console(replace(settings, tokens_bucket=tokens_bucket), processes)
    provision_buckets(stack)
    return stack


def token_of(stack: StackSettings, name: str, role: str) -> str:
    made = api("POST", f"{stack.coordinator_url}/tokens", json={"name": name, "role": role})
    assert made["role"] == role
    token: str = made["token"]
    return token


def a_run(stack: StackSettings) -> str:
    started = api("POST", f"{stack.coordinator_url}/", json={"customerIdentifiers": ["1"]})
    run_id: str = started["runId"]
    return run_id


def signed_in(page: Page, stack: StackSettings, token: str, name: str, role: str) -> None:
    open_console(page, stack, token=token)
    expect(page.locator("#caller")).to_have_text(f"Signed in as {name} · {role}")
    expect(page.get_by_role("heading", name="Runs")).to_be_visible()


def shown_run(page: Page, stack: StackSettings, run_id: str) -> None:
    """The run's page, once its counts and customers are read."""
    page.goto(f"{stack.coordinator_url}/console/#/runs/{run_id}")
    expect(page.get_by_role("heading", name=f"Run {run_id}")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="pending")).to_be_visible()


def test_a_viewer_sees_who_it_is_and_no_retry_cancel_or_start(
    roles: StackSettings, page: Page, browser: Browser
) -> None:
    viewer = token_of(roles, "grafana", "viewer")
    run_id = a_run(roles)
    signed_in(page, roles, viewer, "grafana", "viewer")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Runs")).to_be_visible()
    expect(page.get_by_role("link", name="Start a run")).to_have_count(0)

    shown_run(page, roles, run_id)
    expect(page.get_by_role("button", name=RETRY)).to_have_count(0)
    expect(page.get_by_role("button", name=CANCEL)).to_have_count(0)
    screenshot(page, "roles-viewer-run")

    page.goto(f"{roles.coordinator_url}/console/#/start")
    expect(page.get_by_role("main")).to_contain_text(
        "Starting a run needs a token of the role operator or above; grafana has the role viewer."
    )
    expect(page.get_by_role("button", name="Start the run")).to_have_count(0)
    screenshot(page, "roles-viewer-start")

    page.goto(f"{roles.coordinator_url}/console/#/customers")
    expect(page.get_by_role("button", name="Search")).to_be_visible()
    expect(page.get_by_role("button", name="Add the customer")).to_have_count(0)

    narrow = browser.new_context(viewport={"width": 375, "height": 800})
    small = narrow.new_page()
    signed_in(small, roles, viewer, "grafana", "viewer")
    shown_run(small, roles, run_id)
    expect(small.get_by_role("button", name=CANCEL)).to_have_count(0)
    screenshot(small, "roles-viewer-run-375px")
    narrow.close()


def test_an_operator_may_retry_cancel_and_start_but_not_add_customers(
    roles: StackSettings, page: Page
) -> None:
    operator = token_of(roles, "ci-deploy", "operator")
    run_id = a_run(roles)
    signed_in(page, roles, operator, "ci-deploy", "operator")
    shown_run(page, roles, run_id)
    expect(page.get_by_role("button", name=RETRY)).to_be_disabled()  # shown; nothing failed
    expect(page.get_by_role("button", name=CANCEL)).to_be_enabled()
    screenshot(page, "roles-operator-run")
    # Who started it (the environment's admin token, through the API) and who cancelled it.
    expect(page.get_by_role("main")).to_contain_text("Started by BILLING_TOKEN.")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=CANCEL).click()
    expect(page.get_by_role("main")).to_contain_text("by ci-deploy.")
    screenshot(page, "roles-operator-cancelled")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Start a run").click()
    expect(page.get_by_role("button", name="Start the run")).to_be_visible()

    page.goto(f"{roles.coordinator_url}/console/#/customers")
    expect(page.get_by_role("button", name="Search")).to_be_visible()
    expect(page.get_by_role("button", name="Add the customer")).to_have_count(0)


def test_what_the_console_offers_wrongly_is_refused_in_the_apis_words(
    roles: StackSettings, page: Page
) -> None:
    """Should the console offer what the role may not do (here /whoami is made to say admin),
    the API refuses it, and the person reads why: the problem's detail."""
    viewer = token_of(roles, "grafana", "viewer")
    run_id = a_run(roles)

    def as_admin(route: Route) -> None:
        body = {"name": "grafana", "role": "admin", "via": "named token"}
        route.fulfill(status=200, json=body)

    page.route("**/whoami", as_admin)
    signed_in(page, roles, viewer, "grafana", "admin")
    shown_run(page, roles, run_id)
    page.once("dialog", lambda dialog: dialog.accept())  # "Cancel run ...?"
    page.get_by_role("button", name=CANCEL).click()
    expect(page.get_by_role("alert")).to_contain_text(
        "cancelRun (POST /runs/{runId}/cancel) needs a token of the role operator or above"
    )
    expect(page.get_by_role("alert")).to_contain_text("the token 'grafana' has the role viewer")
    screenshot(page, "roles-refused")


def test_without_auth_the_console_asks_for_no_token_and_offers_everything(
    settings: StackSettings, processes: Processes, page: Page
) -> None:
    """Functions run without auth (local development by hand): /whoami names an anonymous
    admin, the prompt never shows, and every action is offered."""
    open_stack = serve_console(settings, processes, token=None)
    page.goto(f"{open_stack.coordinator_url}/console/#/customers")
    expect(page.locator("#caller")).to_have_text("Signed in as anonymous · admin")
    expect(page.get_by_role("button", name="Add the customer")).to_be_visible()
    expect(page.get_by_role("dialog", name="Bearer token")).to_be_hidden()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Start a run").click()
    expect(page.get_by_role("button", name="Start the run")).to_be_visible()
