"""The figure of ``dlab data info``: a sample grid for images, sample lines for text, class balance otherwise.

The caller (:mod:`dlab.api.data_report`) reads the samples out of the dataset and hands them
over as plain arrays and strings (text already decoded into words); the image grid reuses
:func:`dlab.plots.classification.prediction_grid` with the true labels as the shown ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dlab.plots.classification import prediction_grid


def data_info_figure(
    report: dict[str, Any],
    images: Any = None,
    labels: Any = None,
    class_names: Sequence[str] = (),
    documents: Sequence[str] | None = None,
) -> Any:
    """The right figure for this data.

    Args:
        report: the ``dlab data info`` report (dataset, source, per-split class balance).
        images: sample images (N, H, W, C) with their integer ``labels``: a grid titled with
            ``class_names``.
        documents: the first training documents as words, with their integer ``labels``: one
            line each, prefixed with the label's name.
        class_names: names of the labels, index = label.

    Without images or documents: the class balance per split (or a note that there are no
    classes).
    """
    title = f"{report['dataset']} ({report['source']})"
    if images is not None:
        return prediction_grid(images, labels, labels, list(class_names), title=title)
    if documents is not None:
        return _text_lines(documents, labels, list(class_names), title)
    return _balance_bars(report, title)


def _text_lines(documents: Sequence[str], labels: Any, names: list[str], title: str) -> Any:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 0.9 * len(documents) + 0.8))
    axes = figure.add_subplot()
    axes.axis("off")
    for row, (words, label) in enumerate(zip(documents, labels, strict=True)):
        text = f"[{names[label] if label < len(names) else label}] {words[:150]}"
        axes.text(0, 1 - (row + 0.5) / len(documents), text, fontsize=8, va="center", family="monospace")
    figure.suptitle(f"{title}: first training documents")
    return figure


def _balance_bars(report: dict[str, Any], title: str) -> Any:
    import numpy as np
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 4))
    axes = figure.add_subplot()
    splits = {s: e.get("class_balance") for s, e in report["splits"].items() if e.get("class_balance")}
    if not splits:  # regression or a series: no classes; the training target's range instead
        axes.text(0.5, 0.5, "no classes: see the value ranges in the report", ha="center", va="center")
        axes.axis("off")
        figure.suptitle(title)
        return figure
    classes = list(next(iter(splits.values())))
    width = 0.8 / len(splits)
    for index, (split, balance) in enumerate(splits.items()):
        total = max(sum(balance.values()), 1)
        shares = [balance.get(name, 0) / total for name in classes]
        axes.bar(np.arange(len(classes)) + index * width, shares, width, label=split)
    axes.set_xticks(
        np.arange(len(classes)) + 0.4 - width / 2, classes, rotation=45 if len(classes) > 6 else 0
    )
    axes.set_ylabel("share of the split")
    axes.legend()
    figure.suptitle(f"{title}: class balance")
    figure.set_layout_engine("tight")
    return figure
