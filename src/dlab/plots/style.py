"""Conventions every figure shares: one colour per run, when to draw markers, epoch ticks, the smoke mark.

A reader matches runs across figures by colour, so a run must keep its colour in
every figure of a report or comparison: :func:`run_colors` gives each label a
colour once, in the order the runs are shown, and the figures take that mapping.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

MARKER_LIMIT = 50
"""Curves with more points than this are drawn without markers (2,000 dots are a smear)."""

SMOKE_MARK = "smoke (synthetic data)"
"""What every figure of a smoke run says in its title: its numbers say nothing about the real data."""

_PALETTE = ("tab10", "tab20", "tab20b")


def run_colors(labels: Iterable[str]) -> dict[str, str]:
    """A distinct colour per label, first come first served (tab10, then tab20 beyond ten runs)."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    unique = list(dict.fromkeys(labels))
    colours: list[str] = []
    for name in _PALETTE:
        colours += [to_hex(colour) for colour in colormaps[name].colors if to_hex(colour) not in colours]
        if len(colours) >= len(unique):
            break
    return {label: colours[index % len(colours)] for index, label in enumerate(unique)}


def marker_style(points: int) -> dict[str, Any]:
    """Markers for short curves (each epoch visible), none for long ones."""
    return {"marker": "o", "markersize": 3} if points <= MARKER_LIMIT else {"marker": None}


def epoch_axis(axes: Any, longest: int) -> None:
    """Integer epoch ticks only; one epoch gets a single tick at 1, not 0.5 to 1.5 in fractions."""
    from matplotlib.ticker import MaxNLocator

    axes.set_xlabel("epoch")
    if longest <= 1:
        axes.set_xlim(0, 2)
        axes.set_xticks([1])
        return
    axes.set_xlim(1 - 0.02 * longest, longest + 0.02 * longest)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))


def legend_outside(axes: Any, *, fontsize: str = "small", handles: Sequence[Any] | None = None) -> None:
    """The legend to the right of the axes, where it cannot cover a data point."""
    kwargs: dict[str, Any] = {"loc": "upper left", "bbox_to_anchor": (1.02, 1.0), "borderaxespad": 0.0}
    if handles is not None:
        kwargs["handles"] = handles
    axes.legend(fontsize=fontsize, **kwargs)


def mark_smoke(figure: Any) -> None:
    """Say in the figure's titles that it shows a smoke run on synthetic data (once, idempotent)."""
    titled = False
    suptitle = getattr(figure, "_suptitle", None)
    if suptitle is not None and suptitle.get_text():
        if SMOKE_MARK not in suptitle.get_text():
            suptitle.set_text(f"{suptitle.get_text()}\n{SMOKE_MARK}")
        titled = True
    for axes in figure.axes:
        title = axes.get_title()
        if title and SMOKE_MARK not in title:
            axes.set_title(f"{title}\n{SMOKE_MARK}")
            titled = True
        elif title:
            titled = True
    if not titled:
        figure.suptitle(SMOKE_MARK)
