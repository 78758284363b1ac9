"""The layout's rules, checked: no module over 400 lines, no test module importing another
(what tests share is in tests/helpers/ and tests/unit/harness.py)."""

from __future__ import annotations

import re

from runtime.config import REPO

MOST_LINES = 400
SOURCES = ("functions", "runtime", "cli", "infra", "bench", "tests")


def test_no_module_is_over_400_lines() -> None:
    long = {
        str(path.relative_to(REPO)): lines
        for folder in SOURCES
        for pattern in ("*.py", "*.js")
        for path in (REPO / folder).rglob(pattern)
        if (lines := len(path.read_text().splitlines())) > MOST_LINES
    }
    assert long == {}, f"split these by subject: {long}"


def test_no_test_module_imports_another() -> None:
    importing = re.compile(r"^\s*(?:from|import) tests\.\w+\.test_\w+", re.MULTILINE)
    found = [
        str(path.relative_to(REPO))
        for path in (REPO / "tests").rglob("*.py")
        if importing.search(path.read_text())
    ]
    assert found == [], "move what they share into tests/helpers/ or tests/unit/harness.py"
