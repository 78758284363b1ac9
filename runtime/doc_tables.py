"""A table of a docs page written from the code's own declarations, between two markers:
what ``runtime.settings_doc`` and ``runtime.roles_doc`` share. A test of each compares the
page with what would be written, so the page and the declarations cannot drift apart."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DocTable:
    page: Path
    begin: str
    end: str
    table: Callable[[], str]
    what: str  # "the settings", "the roles"

    def page_with_table(self, text: str) -> str:
        """``text`` with what stands between its markers replaced by today's table."""
        before, found, rest = text.partition(self.begin)
        _, ended, after = rest.partition(self.end)
        if not (found and ended):
            raise SystemExit(f"{self.page} lacks the markers {self.begin!r} and {self.end!r}")
        return f"{before}{self.begin}\n{self.table()}\n{self.end}{after}"

    def write(self) -> int:
        self.page.write_text(self.page_with_table(self.page.read_text()))
        print(f"wrote {self.what} into {self.page}")
        return 0
