"""Writes the roles table into docs/security.md, from the operations' own declarations
(``Operation.role``, ``Operation.public``): ``python -m runtime.roles_doc``.

``tests/unit/test_roles_doc.py`` fails when the page and the declarations differ.
"""

from __future__ import annotations

import sys

from runtime.config import REPO
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


def page_with_table(text: str) -> str:
    """``text`` with what stands between its markers replaced by today's table."""
    before, found, rest = text.partition(BEGIN)
    _, ended, after = rest.partition(END)
    if not (found and ended):
        raise SystemExit(f"{PAGE} lacks the markers {BEGIN!r} and {END!r}")
    return f"{before}{BEGIN}\n{table()}\n{END}{after}"


def main() -> int:
    PAGE.write_text(page_with_table(PAGE.read_text()))
    print(f"wrote the roles into {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
