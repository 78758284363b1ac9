"""A real browser for the console's tests: Playwright driving Debian's Chromium
(``/usr/bin/chromium``, which ``make install`` installs). Without it the tests fail,
naming what to install; they never skip.

A pytest plugin too (``pytest_plugins = ["tests.helpers.browser"]``): its fixtures are the
browser, the stack the console runs on and a tab; its functions do what a person does (the
token, the start form) and read what a page shows. The test module imports it before pytest
loads it as a plugin, too late for pytest to rewrite its asserts, which name what failed
themselves: PYTEST_DONT_REWRITE."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from runtime.config import StackSettings
from tests.helpers.cli import TOKEN
from tests.helpers.ports import free_port
from tests.helpers.processes import Processes, start_http_function

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Each test's screenshots land here (CI keeps them with its logs).
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR", ".state/screenshots"))


@contextmanager
def chromium() -> Iterator[Browser]:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        raise AssertionError(
            f"no Chromium at {CHROMIUM}: run `make install` (it installs Debian's `chromium`"
            " with apt), or set CHROMIUM to a Chromium binary"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            yield browser
        finally:
            browser.close()


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def console(settings: StackSettings, processes: Processes) -> StackSettings:
    """The coordinator and the CRM as `make up` runs them, with auth on and the CRM open to
    the coordinator's console; the runtime is each test's to start."""
    return serve_console(settings, processes)


def serve_console(
    settings: StackSettings, processes: Processes, token: str | None = TOKEN
) -> StackSettings:
    """The coordinator and the CRM of ``settings``, auth on (``token``, an admin's; None and
    no tokens bucket: without auth), the CRM open to the console; what a client needs."""
    coordinator_port, crm_port = free_port(), free_port()
    coordinator = f"http://127.0.0.1:{coordinator_port}"
    crm = f"http://127.0.0.1:{crm_port}"
    stack = replace(
        settings,
        auth_token=token,
        console_crm_url=crm,
        console_origins=coordinator,
        coordinator_url=coordinator,
        crm_url=crm,
    )
    start_http_function(processes, stack, "crm", port=crm_port)
    start_http_function(processes, stack, "coordinator", port=coordinator_port)
    return stack


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh tab (its own session storage); a screenshot of where it ended, and no
    script error left unnoticed."""
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    screenshot(opened, request.node.name)
    context.close()
    assert errors == [], f"the page's scripts failed: {errors}"


def open_console(page: Page, stack: StackSettings, token: str = TOKEN, hash_: str = "") -> None:
    page.goto(f"{stack.coordinator_url}/console/{hash_}")
    expect(page.get_by_role("dialog", name="Bearer token")).to_be_visible()
    page.get_by_label("Token", exact=True).fill(token)
    page.get_by_role("button", name="Use this token").click()


def start_run(page: Page, ids: str | None, period: str | None = None) -> str:
    """Starts a run from the console's form (every customer without ``ids``), of ``period``
    if given; its id."""
    page.get_by_role("link", name="Start a run").first.click()
    if ids is None:
        page.get_by_label("Every customer of the CRM").check()
    else:
        page.get_by_label("Customer ids, separated by spaces, commas or lines").fill(ids)
    if period is not None:
        page.get_by_label("Billing period", exact=True).fill(period)
    page.get_by_role("button", name="Start the run").click()
    page.wait_for_url(re.compile(r"#/runs/run-"))
    return page.url.rpartition("/")[2]


def facts(page: Page) -> dict[str, str]:
    terms = page.locator(".facts dt").all_inner_texts()
    return dict(zip(terms, page.locator(".facts dd").all_inner_texts(), strict=True))


def row_of(page: Page, customer: str) -> Locator:
    """The table's row of ``customer``, by its id's cell."""
    return page.get_by_role("row").filter(has=page.get_by_role("cell", name=customer, exact=True))


def api(method: str, url: str, **kwargs: Any) -> Any:
    """What the coordinator or the CRM answers, with the token, as a client sees it."""
    answered = requests.request(
        method, url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60, **kwargs
    )
    assert answered.ok, answered.text
    return answered.json()
