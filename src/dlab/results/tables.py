"""Rows of text as a console table (rich), CSV or Markdown (``--format``).

Every table dlab prints to a console (``compare``, ``check``, ``runs``, ``diff``,
``list``, ``predict``, ``evaluate``) is laid out by :func:`text_table`: rich
fits the columns to the terminal and wraps a long cell inside its own column
instead of breaking the line, so an 80-column terminal shows every word. When
stdout is not a terminal (a pipe, a file, a test) and no width is given, nothing
wraps: one row stays one line, for ``grep`` and friends. The string comes back
to the caller, so commands stay testable and ``--format`` decides what is printed.

Markdown is what a CI job posts as a pull request comment, so cells are escaped
for it (a ``|`` would split a column); Markdown and CSV are written by hand (they
are simple and must not change with a library's layout).
"""

from __future__ import annotations

import csv
import io
import shutil
import textwrap
from collections.abc import Sequence

from dlab.errors import UsageError, did_you_mean

FORMATS = ("table", "csv", "json", "markdown")

UNWRAPPED = 100_000
"""The width a table is laid out in when it must not wrap (stdout is no terminal): wider than any row."""

ELLIPSIS = "..."
"""Marks text cut short (ASCII, like every other piece of dlab's console output)."""


def check_format(name: str) -> str:
    """Return ``name`` if it is a known output format, else raise a UsageError."""
    if name not in FORMATS:
        raise UsageError(
            f"Unknown --format '{name}'. Choose one of: {', '.join(FORMATS)}." + did_you_mean(name, FORMATS)
        )
    return name


def terminal_width(default: int | None = None) -> int | None:
    """The width tables wrap to: ``$COLUMNS``, else the terminal's; ``default`` when neither is known.

    ``shutil.get_terminal_size`` reads ``$COLUMNS`` first, then the terminal stdout is, so a
    pipe or a file gets ``default`` (None: do not wrap).
    """
    columns = shutil.get_terminal_size((0, 0)).columns
    return columns if columns > 0 else default


def text_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    width: int | None = None,
    show_header: bool = True,
    min_widths: Sequence[int] = (),
    indent: int = 0,
) -> str:
    """Columns two spaces apart, numbers right-aligned, wrapped to ``width`` (rich).

    Args:
        headers: one per column (also when ``show_header`` is False: they name the columns).
        rows: the cells, as text; shown as they are (a ``[`` is not rich markup).
        width: the room in characters; None: the terminal's (:func:`terminal_width`), and
            no wrapping at all when stdout is not a terminal.
        show_header: print the header line.
        min_widths: the least width of the first columns (to align several tables).
        indent: spaces before every line (counted in ``width``).

    Returns:
        The table, one line per row unless a cell had to wrap, each line ending in a newline.
    """
    # rich is imported here, not at the top: `dlab list --format names`, shell completion and
    # every command that prints no table would pay ~40 ms for it otherwise.
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    room = (width or terminal_width() or UNWRAPPED) - indent - 2 * (len(headers) - 1)
    shown = [headers] if show_header else []
    columns = [[line[i] for line in [*shown, *rows]] or [""] for i in range(len(headers))]
    widths = column_widths(columns, max(room, len(headers)), min_widths)
    numeric = [bool(rows) and all(_looks_numeric(row[i]) for row in rows) for i in range(len(headers))]
    table = Table(box=None, show_header=show_header, show_edge=False, pad_edge=False, padding=(0, 1))
    for header, column_width, right in zip(headers, widths, numeric, strict=True):
        # a word longer than its column (only on a terminal too narrow for it) is folded, never cut
        table.add_column(
            Text(header), justify="right" if right else "left", width=column_width, overflow="fold"
        )
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    console = Console(
        file=io.StringIO(),
        width=UNWRAPPED,  # the columns have their widths already
        color_system=None,
        force_terminal=False,
        force_jupyter=False,
        force_interactive=False,
        highlight=False,
        markup=False,
        emoji=False,
        legacy_windows=False,
    )
    console.print(table)
    lines = console.file.getvalue().splitlines()
    return "".join(f"{' ' * indent}{line}".rstrip() + "\n" for line in lines)


def ellipsize(text: str, width: int) -> str:
    """``text`` on one line, cut to at most ``width`` characters with :data:`ELLIPSIS` where it was
    cut: for a legend or a cell that must not take several lines (the full text is in the CSV/JSON)."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    if width <= len(ELLIPSIS):
        return text[: max(0, width)]
    return text[: width - len(ELLIPSIS)].rstrip() + ELLIPSIS


def fit_lines(text: str, width: int | None = None) -> str:
    """Free text printed under a table (notes, sources, gate failures) wrapped to the terminal.

    Each line longer than ``width`` (default :func:`terminal_width`) is broken at spaces, its
    continuation lines indented two more spaces than the line itself; without a terminal
    (a pipe, a file) the text is returned as it is, one line per line, like the tables.
    """
    room = width or terminal_width()
    if room is None:
        return text
    lines = []
    for line in text.split("\n"):
        indent = " " * (len(line) - len(line.lstrip(" ")))
        wrapped = textwrap.wrap(
            line, room, subsequent_indent=indent + "  ", break_on_hyphens=False, drop_whitespace=True
        )
        lines.extend(wrapped or [line])
    return "\n".join(lines)


def column_widths(columns: Sequence[Sequence[str]], room: int, min_widths: Sequence[int] = ()) -> list[int]:
    """Each column's width so that together they fit ``room``: only columns of words wrap.

    A column keeps its widest cell while the table fits. Otherwise the widest columns are cut
    to one common width, but no column below its longest word (or ``min_widths``), so names,
    paths and numbers stay whole and only text with spaces wraps; when even the longest words
    do not fit, words are folded.
    """
    natural = [max(len(cell) for cell in column) for column in columns]
    least = least_widths(columns, min_widths)
    natural = [max(width, low) for width, low in zip(natural, least, strict=True)]
    if sum(natural) <= room:
        return natural
    floor = least if sum(least) <= room else [1] * len(columns)

    def widths(cap: int) -> list[int]:
        return [max(min(width, cap), low) for width, low in zip(natural, floor, strict=True)]

    low, high = 1, max(natural)
    while low < high:  # the widest common cap that fits
        middle = (low + high + 1) // 2
        low, high = (middle, high) if sum(widths(middle)) <= room else (low, middle - 1)
    return widths(low)


def least_widths(columns: Sequence[Sequence[str]], min_widths: Sequence[int] = ()) -> list[int]:
    """Each column's longest word (at least ``min_widths``): the narrowest it gets without folding."""
    least = [max((len(word) for cell in column for word in cell.split()), default=1) for column in columns]
    return [max(width, min_widths[i] if i < len(min_widths) else 1) for i, width in enumerate(least)]


def fits(headers: Sequence[str], rows: Sequence[Sequence[str]], width: int | None = None) -> bool:
    """Whether :func:`text_table` can lay these out in ``width`` (default: the terminal's) wrapping
    only at spaces, every word whole; always True without a terminal (nothing wraps there).

    A caller with columns to spare (``dlab compare``'s metrics) drops some until it is: sixteen
    columns folded to four characters each are not a table anyone can read.
    """
    room = width or terminal_width()
    if room is None:
        return True
    columns = [[line[i] for line in [headers, *rows]] for i in range(len(headers))]
    return sum(least_widths(columns)) + 2 * (len(headers) - 1) <= room


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
