"""Writes the table of every setting into docs/configuration.md, from the settings' own
declarations (``runtime/config/``): ``python -m runtime.settings_doc``.

``tests/unit/test_settings.py`` fails when the page and the declarations differ.
"""

from __future__ import annotations

import dataclasses
import inspect
import sys

from runtime.config import AUDIENCES, REPO
from runtime.doc_tables import DocTable

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
    """The settings as Markdown tables, one per part of the settings (``AUDIENCES``),
    each in the order its settings are declared."""
    sections = []
    for audience in AUDIENCES:
        own = inspect.get_annotations(audience)
        first_paragraph = (audience.__doc__ or "").strip().split("\n\n")[0]
        summary = " ".join(first_paragraph.split()).replace("``", "`")
        rows = [
            f"### `{audience.__name__}`",
            "",
            summary,
            "",
            "| variable | default | what for |",
            "|---|---|---|",
        ]
        for spec in dataclasses.fields(audience):
            if spec.name not in own:
                continue  # declared by a part the audience shares
            metadata = spec.metadata
            doc = metadata["doc"]
            if metadata["choices"]:
                doc += "; one of " + ", ".join(f"`{choice}`" for choice in metadata["choices"])
            if metadata["secret"]:
                doc += " (a secret: never logged)"
            rows.append(f"| `{metadata['env']}` | {_default(spec)} | {doc} |")
        sections.append("\n".join(rows))
    return "\n\n".join(sections)


DOC = DocTable(PAGE, BEGIN, END, table, "the settings")
page_with_table = DOC.page_with_table


if __name__ == "__main__":
    sys.exit(DOC.write())
