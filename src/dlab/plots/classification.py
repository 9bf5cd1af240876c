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
    figure.tight_layout()
    return figure


def prediction_grid(
    images, true, predicted, class_names: Sequence[str], title: str, columns: int = 5
) -> Figure:
    """Images with their predicted label; wrong predictions in red with the true label.

    The cells are placed on a fixed grid (room for two title lines above each image)
    instead of by ``tight_layout``: with 20 small axes its extra full draw cost about
    as much as rendering the figure itself, on every classifier run.
    """
    import numpy as np
    from matplotlib.figure import Figure

    count = len(images)
    rows = max(1, int(np.ceil(count / columns)))
    height = 2.2 * rows + 0.5  # 0.5 in for the figure title
    figure = Figure(figsize=(2.0 * columns, height))
    grid = figure.subplots(
        rows,
        columns,
        squeeze=False,
        gridspec_kw={"left": 0.01, "right": 0.99, "bottom": 0.01, "top": 1 - 0.9 / height, "hspace": 0.4},
    )
    for index, axes in enumerate(grid.flat):
        axes.set_axis_off()
        if index >= count:
            continue
        image = np.asarray(images[index])
        if image.ndim == 3 and image.shape[-1] == 1:
            axes.imshow(image[..., 0], cmap="gray", vmin=0, vmax=255)
        else:
            axes.imshow(image.astype(np.uint8))
        right = int(predicted[index]) == int(true[index])
        label = class_names[int(predicted[index])]
        if not right:
            label += f"\n(true: {class_names[int(true[index])]})"
        axes.set_title(label, fontsize=9, color="black" if right else "red")
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
    figure.tight_layout()
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
    figure.tight_layout()
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
    figure.tight_layout(rect=(0, 0.5 / height, 1, 1))
    return figure
