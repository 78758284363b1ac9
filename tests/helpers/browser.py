"""A real browser for the console's tests: Playwright driving Debian's Chromium
(``/usr/bin/chromium``, which ``make install`` installs). Without it the tests fail,
naming what to install; they never skip."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

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
