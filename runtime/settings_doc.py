"""Writes the table of every setting into docs/configuration.md, from the settings' own
declarations (``runtime/config.py``): ``python -m runtime.settings_doc``.

``tests/unit/test_settings.py`` fails when the page and the declarations differ.
"""

from __future__ import annotations

import dataclasses
import sys

from runtime.config import REPO, Settings

PAGE = REPO / "docs" / "configuration.md"
BEGIN = "<!-- settings: written by `python -m runtime.settings_doc`; do not edit by hand -->"
END = "<!-- end of settings -->"


def _default(spec: dataclasses.Field[object]) -> str:
    metadata = spec.metadata
    if metadata["shown"]:
        return f"`{metadata['shown']}`"
    if spec.default is None:
        return "unset"
    if spec.default == "":
        return "empty"
    return f"`{spec.default}`"


def table() -> str:
    """The settings as a Markdown table, in the order they are declared."""
    rows = ["| variable | default | what for |", "|---|---|---|"]
    for spec in dataclasses.fields(Settings):
        metadata = spec.metadata
        doc = metadata["doc"]
        if metadata["choices"]:
            doc += "; one of " + ", ".join(f"`{choice}`" for choice in metadata["choices"])
        if metadata["secret"]:
            doc += " (a secret: never logged)"
        rows.append(f"| `{metadata['env']}` | {_default(spec)} | {doc} |")
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
    print(f"wrote the settings into {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
