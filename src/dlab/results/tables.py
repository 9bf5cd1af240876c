"""Rows of text as an aligned console table, CSV or Markdown (``--format``).

``dlab compare``, ``check`` and ``runs`` print the same kind of table; this is
the one place that lays them out. Markdown is what a CI job posts as a pull
request comment, so cells are escaped for it (a ``|`` would split a column).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

FORMATS = ("table", "csv", "json", "markdown")


def check_format(name: str) -> str:
    """Return ``name`` if it is a known output format, else raise a UsageError."""
    from dlab.errors import UsageError, did_you_mean

    if name not in FORMATS:
        raise UsageError(
            f"Unknown --format '{name}'. Choose one of: {', '.join(FORMATS)}." + did_you_mean(name, FORMATS)
        )
    return name


def text_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell, two spaces apart; numbers right-aligned."""
    widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(headers)]
    numeric = [bool(rows) and all(_looks_numeric(row[i]) for row in rows) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.rjust(width) if right else cell.ljust(width)
            for cell, width, right in zip(cells, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers), *(line(row) for row in rows)]) + "\n"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table."""

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(_markdown_cell(cell) for cell in cells) + " |"

    numeric = [bool(rows) and all(_looks_numeric(row[i]) for row in rows) for i in range(len(headers))]
    rule = "|" + "|".join("---:" if right else "---" for right in numeric) + "|"
    return "\n".join([line(headers), rule, *(line(row) for row in rows)]) + "\n"


def csv_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows(["" if cell is None else cell for cell in row] for row in rows)
    return buffer.getvalue()


def _markdown_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _looks_numeric(text: str) -> bool:
    head = text.split(" ")[0]
    if head in ("-", ""):
        return True
    try:
        float(head)
    except ValueError:
        return False
    return True
