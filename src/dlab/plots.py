"""Figures. Every function returns a matplotlib ``Figure``; ``RunDir.save_figure`` writes it.

Figures are built with ``matplotlib.figure.Figure`` rather than pyplot, so no
GUI backend is ever touched (there is no display on CI machines) and no global
figure state leaks between runs. Functions accept many runs where that makes
sense, so ``dlab compare`` and studies reuse them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

History = dict[str, list[float]]


def curve_metrics(history: History) -> list[str]:
    """The base metric names in a history (``loss``, ``accuracy`` ...), without ``val_``."""
    names = [key.removeprefix("val_") for key in history]
    return list(dict.fromkeys(name for name in names if name))


def learning_curves(runs: Sequence[tuple[str, History]], metric: str, title: str | None = None) -> Figure:
    """Train (dashed) and validation (solid) ``metric`` per epoch, one colour per run.

    Args:
        runs: ``(label, history)`` pairs; the label may be empty for a single run.
        metric: base metric name, e.g. ``loss``; ``val_<metric>`` is drawn too.
        title: figure title (default: the metric name).
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(6.4, 4.2))
    axes = figure.add_subplot()
    longest = 1
    for index, (label, history) in enumerate(runs):
        parts = ((metric, "--", "train", 0), (f"val_{metric}", "-", "validation", 1))
        for key, style, part, offset in parts:
            values = history.get(key)
            if not values:
                continue
            # one run: train and validation in two colours; many runs: one colour per run
            color = f"C{offset}" if len(runs) == 1 else f"C{index % 10}"
            epochs = range(1, len(values) + 1)
            longest = max(longest, len(values))
            name = f"{label} {part}" if label else part
            axes.plot(epochs, values, style, color=color, marker="o", markersize=3, label=name)
    axes.set_xlim(0.5, longest + 0.5)
    axes.set_xlabel("epoch")
    axes.set_ylabel(metric.replace("_", " "))
    axes.set_title(title or metric.replace("_", " "))
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.grid(alpha=0.3)
    if axes.lines:
        axes.legend()
    figure.tight_layout()
    return figure


def decision_boundary(
    predict,
    x,
    y,
    title: str,
    boundary: float = 0.5,
    class_names: Sequence[str] | None = None,
    x_test=None,
    y_test=None,
) -> Figure:
    """A 2-D model's output over the plane, its decision line, and the data on top.

    Args:
        predict: maps an (N, 2) array to scores (N,) (binary: the line is drawn at
            ``boundary``) or class probabilities (N, K) (the regions are the argmax).
        x, y: the training points and their labels, drawn as filled markers.
        x_test, y_test: optional test points, drawn as hollow markers.
    """
    import numpy as np
    from matplotlib.figure import Figure

    points = x if x_test is None else np.concatenate([x, x_test])
    low, high = points.min(axis=0), points.max(axis=0)
    pad = 0.15 * np.maximum(high - low, 1e-6)
    grid_x, grid_y = np.meshgrid(
        np.linspace(low[0] - pad[0], high[0] + pad[0], 200),
        np.linspace(low[1] - pad[1], high[1] + pad[1], 200),
    )
    scores = np.asarray(predict(np.c_[grid_x.ravel(), grid_y.ravel()].astype(np.float32)))

    figure = Figure(figsize=(5.6, 5.0))
    axes = figure.add_subplot()
    labels = np.unique(y)
    if scores.ndim == 2 and scores.shape[1] > 1:
        regions = scores.argmax(axis=1).reshape(grid_x.shape)
        axes.contourf(
            grid_x, grid_y, regions, levels=np.arange(scores.shape[1] + 1) - 0.5, cmap="tab10", alpha=0.25
        )
    else:
        surface = scores.reshape(grid_x.shape)
        filled = axes.contourf(grid_x, grid_y, surface, levels=20, cmap="RdBu", alpha=0.6)
        figure.colorbar(filled, ax=axes, label="model output")
        if surface.min() < boundary < surface.max():
            axes.contour(grid_x, grid_y, surface, levels=[boundary], colors="black", linewidths=1.5)
    for index, label in enumerate(labels):
        name = class_names[int(index)] if class_names and len(class_names) == len(labels) else label
        color = f"C{index % 10}"
        mask = y == label
        axes.scatter(x[mask, 0], x[mask, 1], color=color, edgecolor="black", s=30, label=f"train {name}")
        if x_test is not None and y_test is not None:
            mask = y_test == label
            axes.scatter(
                x_test[mask, 0],
                x_test[mask, 1],
                facecolor="none",
                edgecolor=color,
                s=30,
                label=f"test {name}",
            )
    axes.set_xlabel("x1")
    axes.set_ylabel("x2")
    axes.set_title(title)
    axes.legend(loc="best", fontsize="small")
    figure.tight_layout()
    return figure


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


def fitted_line(x, y, predict, title: str, x_test=None, y_test=None) -> Figure:
    """One-feature regression: the data as points and the model's prediction as a line."""
    import numpy as np
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 4.2))
    axes = figure.add_subplot()
    axes.scatter(x[:, 0], y, s=12, alpha=0.7, label="train")
    if x_test is not None:
        axes.scatter(x_test[:, 0], y_test, s=12, alpha=0.7, marker="x", label="test")
    line = np.linspace(x[:, 0].min(), x[:, 0].max(), 100).reshape(-1, 1)
    axes.plot(line[:, 0], predict(line), color="C3", linewidth=2, label="fitted line")
    axes.set_xlabel("x")
    axes.set_ylabel("y")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    return figure


def prediction_grid(
    images, true, predicted, class_names: Sequence[str], title: str, columns: int = 5
) -> Figure:
    """Images with their predicted label; wrong predictions in red with the true label."""
    import numpy as np
    from matplotlib.figure import Figure

    count = len(images)
    rows = max(1, int(np.ceil(count / columns)))
    figure = Figure(figsize=(2.0 * columns, 2.2 * rows))
    for index in range(count):
        axes = figure.add_subplot(rows, columns, index + 1)
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
        axes.axis("off")
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def smooth(values: Sequence[float], factor: float = 0.9) -> list[float]:
    """Exponential moving average, as Deep Learning with Python smooths k-fold curves."""
    smoothed: list[float] = []
    for value in values:
        smoothed.append(smoothed[-1] * factor + value * (1 - factor) if smoothed else value)
    return smoothed


def kfold_curve(mean_curve: Sequence[float], metric: str, title: str) -> Figure:
    """A validation metric averaged over folds per epoch, raw and smoothed."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 4.2))
    axes = figure.add_subplot()
    epochs = range(1, len(mean_curve) + 1)
    axes.plot(epochs, mean_curve, color="C0", alpha=0.45, label="mean over folds")
    axes.plot(epochs, smooth(mean_curve), color="C0", linewidth=2, label="smoothed (EMA 0.9)")
    axes.set_xlabel("epoch")
    axes.set_ylabel(metric.replace("_", " "))
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    return figure


def learning_rate_schedule(schedule, steps_per_epoch: int, epochs: int, title: str) -> Figure:
    """The learning rate a schedule gives at the start of every epoch."""
    import numpy as np
    from matplotlib.figure import Figure

    epoch_starts = np.arange(epochs) * steps_per_epoch
    rates = (
        [float(schedule(int(step))) for step in epoch_starts]
        if callable(schedule)
        else [float(schedule)] * epochs
    )
    figure = Figure(figsize=(6.4, 4.2))
    axes = figure.add_subplot()
    axes.plot(np.arange(1, epochs + 1), rates, color="C2")
    axes.set_xlabel("epoch")
    axes.set_ylabel("learning rate")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    figure.tight_layout()
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


def forecast_stretch(hours, truth, predictions: dict, title: str, unit: str = "degC") -> Figure:
    """A forecast against the truth over a stretch of time: truth in black, one line per
    predictor (the model, the last-value baseline ...), with each one's MAE over the stretch.

    Args:
        hours: the time of each target, in hours from the first one.
        truth: the true values.
        predictions: label -> predicted values, aligned with ``truth``.
    """
    import numpy as np
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 4.2))
    axes = figure.add_subplot()
    truth = np.asarray(truth)
    axes.plot(hours, truth, color="black", linewidth=1.4, label="truth")
    for index, (label, values) in enumerate(predictions.items()):
        values = np.asarray(values)
        mae = float(np.mean(np.abs(values - truth))) if len(truth) else float("nan")
        axes.plot(
            hours,
            values,
            color=f"C{index}",
            linewidth=1.0,
            alpha=0.85,
            label=f"{label} (MAE {mae:.2f} {unit})",
        )
    axes.set_xlabel("hours")
    axes.set_ylabel(unit)
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    return figure


def metric_comparison(
    labels: Sequence[str],
    values: Sequence[float],
    errors: Sequence[float],
    metric: str,
    goal: str = "min",
    threshold: float | None = None,
) -> Figure:
    """One metric per run or study member as horizontal bars, best first, with error bars.

    Args:
        labels: one name per bar (a member: config and overrides).
        values: the metric (the mean over seeds for a member).
        errors: half-widths of the interval drawn around each value (0: none).
        metric: the metric's name, for the axis.
        goal: ``min`` or ``max``: which end is best (the best bar is highlighted).
        threshold: a target value, drawn as a dashed line.
    """
    from matplotlib.figure import Figure

    order = sorted(range(len(values)), key=lambda i: values[i], reverse=goal == "max")
    figure = Figure(figsize=(7.2, 1.2 + 0.42 * len(values)))
    axes = figure.add_subplot()
    positions = range(len(order))
    colors = ["C2" if rank == 0 else "C0" for rank in positions]
    axes.barh(
        list(positions),
        [values[i] for i in order],
        xerr=[errors[i] for i in order],
        color=colors,
        alpha=0.8,
        capsize=3,
    )
    axes.set_yticks(list(positions), [labels[i] for i in order], fontsize="small")
    axes.invert_yaxis()
    if threshold is not None:
        axes.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.3g}")
        axes.legend(loc="best", fontsize="small")
    better = "lower" if goal == "min" else "higher"
    axes.set_xlabel(
        f"{metric} ({better} is better; bars: 95% interval over seeds)"
        if any(errors)
        else f"{metric} ({better} is better)"
    )
    axes.grid(alpha=0.3, axis="x")
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


def embedding_map(words: Sequence[str], points: Any, title: str) -> Figure:
    """The words as labelled points on the first two principal components of their vectors.

    Args:
        words: one label per point.
        points: (len(words), 2) coordinates, e.g. :func:`dlab.models.embeddings.pca_2d`.
        title: figure title.
    """
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 6.5))
    axes = figure.add_subplot()
    axes.scatter(points[:, 0], points[:, 1], s=10, color="C0")
    for word, (x, y) in zip(words, points, strict=True):
        axes.annotate(word, (x, y), fontsize=8, xytext=(2, 2), textcoords="offset points")
    axes.set_xlabel("principal component 1")
    axes.set_ylabel("principal component 2")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    return figure


def trials_figure(rows: list[dict[str, Any]], objective: str, direction: str, title: str) -> Any:
    """Each completed trial's score, the best so far as a step line, failed trials as x."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 4.0))
    axes = figure.subplots()
    done = [(index, row["score"]) for index, row in enumerate(rows, start=1) if row["score"] is not None]
    if done:
        numbers, scores = zip(*done, strict=True)
        axes.plot(numbers, scores, "o", label="trial score")
        pick = max if direction == "max" else min
        best = [pick(scores[: i + 1]) for i in range(len(scores))]
        axes.step(numbers, best, where="post", label="best so far")
    failed = [index for index, row in enumerate(rows, start=1) if row["score"] is None]
    if failed:
        low = min((s for _, s in done), default=0.0)
        axes.plot(failed, [low] * len(failed), "x", color="red", label="failed")
    axes.set_xlabel("trial")
    axes.set_ylabel(objective)
    axes.set_title(title)
    axes.legend()
    axes.grid(alpha=0.3)
    return figure
