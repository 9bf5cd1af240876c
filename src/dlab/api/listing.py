"""``dlab list``: the runnable configs grouped by family, as a table that fits the terminal, JSON or names.

The one module that owns listing: which rows there are (:class:`ExperimentRow`, read
from :mod:`dlab.framework.catalogue`, which reads the configs' metadata and keeps it
cached), the family filter, and the three formats. It lives in the API layer because
its table is drawn by the one console-table renderer, :func:`dlab.results.tables.text_table`,
which the layering lets the API reach and the framework package not.

Families come in the order of a course (:data:`FAMILY_ORDER`: fundamentals, dense networks,
CNNs, text, sequences, tabular data, images, segmentation, tuning), not by their alphabetically
first member; a family dlab does not know (a plugin's, a project's) comes after them. A
pattern (``dlab list cifar``) keeps the configs whose name, dataset or family contains it.

The table wraps each description under its own column instead of cutting it, so an
80-column terminal shows every word; JSON and bare names are for scripts and shells.
Kept apart from :mod:`dlab.api.runs` so that listing imports neither pydantic nor the
experiment modules when the catalogue cache is fresh.
"""

from __future__ import annotations

import fnmatch
import json
import os
from dataclasses import asdict, dataclass

from dlab.errors import UsageError, did_you_mean
from dlab.framework.catalogue import load_catalogue
from dlab.results import tables
from dlab.results.tables import terminal_width, text_table

FORMATS = ("table", "json", "names")

FAMILY_ORDER = (
    "from scratch (NumPy)",
    "playground",
    "dense networks",
    "convolutional networks",
    "classic architectures",
    "text classification",
    "word embeddings",
    "time series",
    "language models",
    "tabular",
    "images from folders",
    "image segmentation",
    "hyperparameter search",
)
"""The families in the order a course meets them: the fundamentals (a neuron, backpropagation,
the Playground), dense networks, CNNs, text, sequences, tabular data, images from folders,
segmentation, and tuning last."""

DEFAULT_WIDTH = 100
"""The width of the table when the terminal's is unknown (a pipe, a file)."""


@dataclass
class ExperimentRow:
    """One line of ``dlab list``."""

    name: str
    family: str
    dataset: str
    description: str
    origin: str = "dlab"
    """Where the config comes from: ``dlab``, ``plugin DIST`` or ``project ROOT``."""


def list_experiments() -> list[ExperimentRow]:
    """Every runnable config with its family, dataset and one-line description, in course order."""
    return in_course_order([ExperimentRow(**row) for row in load_catalogue().rows])


def experiments_listing(
    family: str | None = None, fmt: str = "table", width: int | None = None, pattern: str | None = None
) -> str:
    """``dlab list``: the configs of ``family`` (or all) matching ``pattern``, grouped by family.

    Args:
        family: keep this family only (case-insensitive; a unique prefix is enough).
        fmt: table (grouped by family, wrapped to ``width``), json or names.
        width: the terminal width (None: the current terminal's, 100 when unknown).
        pattern: keep the configs whose name, dataset or family contains it (case-insensitive;
            ``*`` and ``?`` match as in a shell).

    Raises:
        UsageError: an unknown format or family, or a pattern nothing matches (the message lists
            what exists).
    """
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt}: unknown format. Allowed: {', '.join(FORMATS)}.")
    catalogue = load_catalogue()
    rows = in_course_order([ExperimentRow(**row) for row in catalogue.rows])
    if family is not None:
        family = _family(family, [row.family for row in rows])
        rows = [row for row in rows if row.family == family]
    if pattern:
        rows = _matching(pattern, rows)
    if fmt == "json":
        return json.dumps([asdict(row) for row in rows], indent=2) + "\n"
    if fmt == "names":
        return "".join(f"{row.name}\n" for row in rows)
    width = width or terminal_width(DEFAULT_WIDTH) or DEFAULT_WIDTH
    # a table drawn before at this width is reused: rich would cost more than the rest of `dlab list`
    key = f"{width}|{family or ''}|{pattern or ''}|{_drawn_by()}"
    return catalogue.table(key, lambda: _table(rows, width))


def in_course_order(rows: list[ExperimentRow]) -> list[ExperimentRow]:
    """The rows by family in :data:`FAMILY_ORDER` (others after, in the order they come), each
    family's configs in the order they came."""
    first_seen = list(dict.fromkeys(row.family for row in rows))

    def rank(row: ExperimentRow) -> tuple[int, int]:
        known = row.family in FAMILY_ORDER
        return (0 if known else 1, FAMILY_ORDER.index(row.family) if known else first_seen.index(row.family))

    return sorted(rows, key=rank)


def _matching(pattern: str, rows: list[ExperimentRow]) -> list[ExperimentRow]:
    """The rows whose name, dataset or family contains ``pattern`` (a shell pattern when it has
    ``*``, ``?`` or ``[``).

    Raises:
        UsageError: nothing matches (with the closest names, datasets and families).
    """
    wanted = pattern.lower()
    glob = wanted if any(c in wanted for c in "*?[") else f"*{wanted}*"
    found = [
        row
        for row in rows
        if any(fnmatch.fnmatchcase(field.lower(), glob) for field in (row.name, row.dataset, row.family))
    ]
    if found:
        return found
    words = list(dict.fromkeys(w for row in rows for w in (row.name, row.dataset, row.family)))
    raise UsageError(
        f"dlab list {pattern}: no config's name, dataset or family contains '{pattern}'."
        f"{did_you_mean(pattern, words)} `dlab list` shows them all."
    )


def _drawn_by() -> str:
    """What the tables were drawn with (this module and the renderer, as they are now on disk)."""
    return ",".join(str(os.stat(path).st_mtime_ns) for path in (__file__, tables.__file__))


def _family(wanted: str, families: list[str]) -> str:
    known = list(dict.fromkeys(families))
    exact = [f for f in known if f.lower() == wanted.lower()]
    matches = exact or [f for f in known if f.lower().startswith(wanted.lower())]
    if len(matches) == 1:
        return matches[0]
    hint = did_you_mean(wanted, known) if not matches else f" '{wanted}' matches {', '.join(matches)}."
    raise UsageError(f"--family {wanted}: no such family.{hint} Families: {', '.join(known)}.")


def _named(row: ExperimentRow) -> str:
    """The config's name, and where it comes from when that is not dlab itself."""
    if row.origin == "dlab":
        return row.name
    return (
        f"{row.name} ({row.origin.split()[0]})"
        if row.origin.startswith("project")
        else f"{row.name} ({row.origin})"
    )


def _table(rows: list[ExperimentRow], width: int) -> str:
    """Families as headings; under each, name, dataset and the wrapped description, aligned."""
    if not rows:
        return ""
    aligned = (max(len(_named(row)) for row in rows), max(len(row.dataset) for row in rows))
    families: dict[str, list[ExperimentRow]] = {}
    for row in rows:
        families.setdefault(row.family, []).append(row)
    parts = []
    for family, members in families.items():
        table = text_table(
            ["name", "dataset", "description"],
            [[_named(row), row.dataset, row.description] for row in members],
            width=width,
            show_header=False,
            min_widths=aligned,
            indent=2,
        )
        parts.append(f"{family} ({len(members)})\n{table}")
    return "\n".join(parts)
