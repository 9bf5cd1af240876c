"""``dlab list``: the runnable configs grouped by family, as a table that fits the terminal, JSON or names.

The table wraps each description under its own column instead of cutting it, so an
80-column terminal shows every word; JSON and bare names are for scripts and shells.
"""

from __future__ import annotations

import json
import shutil
import textwrap
from collections.abc import Sequence
from typing import Any

from dlab.errors import UsageError, did_you_mean

FORMATS = ("table", "json", "names")


def _fields(row: Any) -> dict[str, str]:
    return {key: str(getattr(row, key)) for key in ("name", "family", "dataset", "description")}


def render_listing(
    rows: Sequence[Any], *, family: str | None = None, fmt: str = "table", width: int | None = None
) -> str:
    """The listing of ``rows`` (name, family, dataset, description), filtered to one family.

    Args:
        family: keep this family only (case-insensitive; a unique prefix is enough).
        fmt: table (grouped by family, wrapped to ``width``), json or names.
        width: the terminal width (None: the current terminal's, 100 when unknown).

    Raises:
        UsageError: an unknown format or family (the message lists what exists).
    """
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt}: unknown format. Allowed: {', '.join(FORMATS)}.")
    entries = [_fields(row) for row in rows]
    if family is not None:
        entries = [e for e in entries if e["family"] == _family(family, [e["family"] for e in entries])]
    if fmt == "json":
        return json.dumps(entries, indent=2) + "\n"
    if fmt == "names":
        return "".join(f"{e['name']}\n" for e in entries)
    return _table(entries, width or shutil.get_terminal_size((100, 20)).columns)


def _family(wanted: str, families: list[str]) -> str:
    known = list(dict.fromkeys(families))
    exact = [f for f in known if f.lower() == wanted.lower()]
    matches = exact or [f for f in known if f.lower().startswith(wanted.lower())]
    if len(matches) == 1:
        return matches[0]
    hint = did_you_mean(wanted, known) if not matches else f" '{wanted}' matches {', '.join(matches)}."
    raise UsageError(f"--family {wanted}: no such family.{hint} Families: {', '.join(sorted(known))}.")


def _table(entries: list[dict[str, str]], width: int) -> str:
    """Families as headings; under each, name and dataset columns and the wrapped description."""
    if not entries:
        return ""
    name_width = max(len(e["name"]) for e in entries)
    data_width = max(len(e["dataset"]) for e in entries)
    indent = 2 + name_width + 2 + data_width + 2
    room = max(width - indent, 24)
    lines: list[str] = []
    families: dict[str, list[dict[str, str]]] = {}
    for entry in entries:
        families.setdefault(entry["family"], []).append(entry)
    for family, members in families.items():
        lines.append(f"{family} ({len(members)})" if not lines else f"\n{family} ({len(members)})")
        for entry in members:
            wrapped = textwrap.wrap(entry["description"], room, break_on_hyphens=False) or [""]
            lines.append(
                f"  {entry['name'].ljust(name_width)}  {entry['dataset'].ljust(data_width)}  {wrapped[0]}"
            )
            lines += [" " * indent + more for more in wrapped[1:]]
    return "\n".join(lines) + "\n"
