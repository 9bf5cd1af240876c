"""What a classifier got right and wrong: confusion matrices, image grids, masks, error histograms, ROC."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

History = dict[str, list[float]]


def confusion_matrix(y_true, y_pred, class_names: Sequence[str], title: str) -> Figure:
    """Counts of true (rows) vs predicted (columns) classes, annotated when readable."""
    import numpy as np
    from matplotlib.figure import Figure

    k = len(class_names)
    counts = np.zeros((k, k), dtype=np.int64)
    np.add.at(counts, (np.asarray(y_true, int).reshape(-1), np.asarray(y_pred, int).reshape(-1)), 1)
    size = min(4 + 0.35 * k, 16)
    figure = Figure(figsize=(size + 1, size))
    axes = figure.add_subplot()
    image = axes.imshow(counts, cmap="Blues")
    figure.colorbar(image, ax=axes, label="samples")
    axes.set_xticks(range(k), class_names, rotation=90 if k > 10 else 45, ha="right")
    axes.set_yticks(range(k), class_names)
    if k <= 20:
        threshold = counts.max() / 2 if counts.size else 0
        for i in range(k):
            for j in range(k):
                axes.text(
                    j,
                    i,
                    str(counts[i, j]),
                    ha="center",
                    va="center",
                    color="white" if counts[i, j] > threshold else "black",
                )
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    accuracy = np.trace(counts) / max(counts.sum(), 1)
    axes.set_title(f"{title} (accuracy {accuracy:.3f})")
    figure.set_layout_engine("tight")
    return figure


def prediction_grid(
    images, true, predicted, class_names: Sequence[str], title: str, columns: int = 5
) -> Figure:
    """Images with their predicted label; wrong predictions in red with the true label.

    The images are tiled into one picture on one axes, each with a band above it for
    its label, instead of one axes per image: drawing 20 small axes (and measuring them
    for the saved figure's tight bounding box) cost half a second on every classifier
    run, several times the rest of the figure.
    """
    import numpy as np
    from matplotlib.figure import Figure

    images = np.asarray(images)
    count = len(images)
    rows = max(1, int(np.ceil(count / columns)))
    height = 2.2 * rows + 0.5  # 0.5 in for the figure title
    figure = Figure(figsize=(2.0 * columns, height))
    axes = figure.add_axes((0.01, 0.01, 0.98, 1 - 0.9 / height))
    axes.set_axis_off()
    if count == 0:
        figure.suptitle(title, y=1 - 0.1 / height)
        return figure
    gray = images.ndim == 3 or images.shape[-1] == 1
    tiles = images.reshape(*images.shape[:3]) if gray else images[..., :3]
    tile_height, tile_width = tiles.shape[1:3]
    band = max(2, round(0.3 * tile_height))  # two lines of 9-point text above each image
    gap = max(1, round(0.08 * tile_width))
    cell_height, cell_width = band + tile_height + gap, tile_width + gap
    canvas = np.full((rows * cell_height, columns * cell_width, *tiles.shape[3:]), 255, np.uint8)
    for index in range(count):
        top = (index // columns) * cell_height + band
        left = (index % columns) * cell_width
        canvas[top : top + tile_height, left : left + tile_width] = np.clip(tiles[index], 0, 255)
        right = int(predicted[index]) == int(true[index])
        label = class_names[int(predicted[index])]
        if not right:
            label += f"\n(true: {class_names[int(true[index])]})"
        axes.text(
            left + tile_width / 2,
            top - 0.5,
            label,
            ha="center",
            va="bottom",
            fontsize=9,
            color="black" if right else "red",
        )
    axes.imshow(canvas, cmap="gray" if gray else None, vmin=0, vmax=255, interpolation="nearest")
    figure.suptitle(title, y=1 - 0.1 / height)
    return figure


def error_histogram(errors, labels, threshold: float, class_names: Sequence[str], title: str) -> Figure:
    """Reconstruction errors per class (log-spaced bins) with the threshold line."""
    import numpy as np
    from matplotlib.figure import Figure

    errors = np.asarray(errors)
    positive = errors[errors > 0]
    low = positive.min() if positive.size else 1e-6
    bins = np.logspace(np.log10(low), np.log10(max(errors.max(), low * 10)), 60)
    figure = Figure(figsize=(6.4, 4.2))
    axes = figure.add_subplot()
    labels = np.asarray(labels)
    for value, name in enumerate(class_names):
        if not (labels == value).any():
            continue
        axes.hist(
            errors[labels == value],
            bins=bins,
            alpha=0.6,
            density=True,
            label=f"{name} ({int((labels == value).sum())})",
        )
    axes.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.3g}")
    axes.set_xscale("log")
    axes.set_xlabel("reconstruction error (MSE)")
    axes.set_ylabel("density")
    axes.set_title(title)
    axes.legend()
    figure.set_layout_engine("tight")
    return figure


def roc_and_pr_curves(labels, scores, title: str) -> Figure:
    """ROC curve and precision-recall curve of an anomaly score, side by side."""
    from matplotlib.figure import Figure
    from sklearn.metrics import auc, precision_recall_curve, roc_curve

    figure = Figure(figsize=(11, 4.4))
    roc_axes, pr_axes = figure.subplots(1, 2)
    if len(set(list(labels))) == 2:
        fpr, tpr, _ = roc_curve(labels, scores)
        roc_axes.plot(fpr, tpr, label=f"AUC {auc(fpr, tpr):.3f}")
        precision, recall, _ = precision_recall_curve(labels, scores)
        pr_axes.plot(recall, precision)
    roc_axes.plot([0, 1], [0, 1], linestyle=":", color="gray", label="chance")
    roc_axes.set(xlabel="false positive rate", ylabel="true positive rate", title=f"{title}: ROC")
    pr_axes.set(xlabel="recall", ylabel="precision", title=f"{title}: precision-recall")
    roc_axes.legend()
    for axes in (roc_axes, pr_axes):
        axes.grid(alpha=0.3)
    figure.set_layout_engine("tight")
    return figure


def segmentation_masks(images, true_masks, predicted_masks, class_names: Sequence[str], title: str) -> Figure:
    """One row per image: the image, its true mask and the predicted mask, classes coloured alike.

    Args:
        images: uint8 (N, H, W, 3).
        true_masks, predicted_masks: integer class maps (N, H, W) or (N, H, W, 1).
        class_names: index = class; the legend under the figure.
    """
    import numpy as np
    from matplotlib import colormaps
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    count, classes = len(images), len(class_names)
    colours = colormaps["tab10" if classes <= 10 else "tab20"].resampled(max(classes, 2))
    height = 2.5 * count + 0.6
    figure = Figure(figsize=(7.5, height))
    columns = (("image", images), ("true mask", true_masks), ("predicted mask", predicted_masks))
    for row in range(count):
        for column, (name, arrays) in enumerate(columns):
            axes = figure.add_subplot(count, 3, 3 * row + column + 1)
            picture = np.asarray(arrays[row])
            if column == 0:
                axes.imshow(picture.astype(np.uint8))
            else:
                axes.imshow(
                    picture.reshape(picture.shape[:2]),
                    cmap=colours,
                    vmin=-0.5,
                    vmax=max(classes, 2) - 0.5,
                    interpolation="nearest",
                )
            if row == 0:
                axes.set_title(name)
            axes.axis("off")
    figure.legend(
        handles=[Patch(color=colours(i), label=label) for i, label in enumerate(class_names)],
        loc="lower center",
        ncol=min(classes, 6),
        frameon=False,
    )
    figure.suptitle(title)
    figure.set_layout_engine("tight", rect=(0, 0.5 / height, 1, 1))
    return figure
