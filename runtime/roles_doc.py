"""Writes the roles table into docs/security.md, from the operations' own declarations
(``Operation.role``, ``Operation.public``): ``python -m runtime.roles_doc``.

``tests/unit/test_roles_doc.py`` fails when the page and the declarations differ.
"""

from __future__ import annotations

import sys

from runtime.config import REPO
from runtime.doc_tables import DocTable
from runtime.http_function import APIS, HttpFunction
from runtime.services import Services

PAGE = REPO / "docs" / "security.md"
BEGIN = "<!-- roles: written by `python -m runtime.roles_doc`; do not edit by hand -->"
END = "<!-- end of roles -->"


def _no_services() -> Services:
    raise AssertionError("the table reads the declarations only")


def table() -> str:
    """Every operation of both HTTP functions, in their documents' order, and who may call it."""
    rows = [
        "| function | call | operation | needs | may be called by |",
        "|---|---|---|---|---|",
    ]
    for function in APIS:
        for operation in HttpFunction(function, _no_services).api.operations:
            role = operation.required_role
            needs = "no token" if role is None else f"`{role}`"
            who = (
                "anyone"
                if role is None
                else ", ".join(f"`{other}`" for other in type(role) if other.allows(role))
            )
            call = f"`{operation.method} {operation.path}`"
            rows.append(f"| {function} | {call} | `{operation.operation_id}` | {needs} | {who} |")
    return "\n".join(rows)


DOC = DocTable(PAGE, BEGIN, END, table, "the roles")
page_with_table = DOC.page_with_table


if __name__ == "__main__":
    sys.exit(DOC.write())
