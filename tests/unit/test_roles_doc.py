"""docs/security.md's roles table is the operations' declarations, as written by
``python -m runtime.roles_doc``."""

from __future__ import annotations

from runtime import roles_doc


def test_the_security_page_lists_every_operations_role_as_declared() -> None:
    page = roles_doc.PAGE.read_text()
    assert roles_doc.page_with_table(page) == page, (
        "docs/security.md is out of date: run `python -m runtime.roles_doc`"
    )
    for line in ("| coordinator | `POST /` | `startRun` | `operator` | `operator`, `admin` |",):
        assert line in page
