"""The CLI's tables: columns as wide as their widest cell, two spaces apart."""

from __future__ import annotations

from collections.abc import Sequence


def table(header: Sequence[str] | None, rows: Sequence[Sequence[str]]) -> None:
    lines = [header, *rows] if header else list(rows)
    if not lines:
        return
    widths = [max(len(str(row[i])) for row in lines) for i in range(len(lines[0]))]
    for row in lines:
        cells = (str(cell).ljust(width) for cell, width in zip(row, widths, strict=True))
        print("  ".join(cells).rstrip())
