"""Per-epoch history: the files, the learning curves and the summary in metrics.json.

Every experiment reports its history through :func:`record_history`, whether it
trained with ``model.fit``, a NumPy loop or k-fold, so every run directory has
the same history.csv/json, curves and ``final`` / ``best_epoch`` fields. This
module does not import Keras (NumPy experiments must not pay for TensorFlow).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dlab.plots import curve_metrics, learning_curves

if TYPE_CHECKING:
    from dlab.run.context import RunContext

History = dict[str, list[float]]

_MAXIMIZED = ("acc", "auc", "precision", "recall", "iou", "f1")


def maximized(metric: str) -> bool:
    """True for metrics where higher is better (accuracy, AUC ...); Keras's ``mode='auto'`` rule."""
    return any(part in metric for part in _MAXIMIZED)


def best_epoch(history: History, metric: str) -> dict[str, Any]:
    """The 1-based epoch where ``metric`` was best, and its value."""
    values = history.get(metric) or []
    if not values:
        return {"epoch": None, "value": None}
    pick = max if maximized(metric) else min
    best = pick(range(len(values)), key=lambda i: values[i])
    return {"epoch": best + 1, "value": values[best]}


def summarize_history(history: History) -> dict[str, Any]:
    """Final train/val metrics, the best epoch of each monitored metric, and epochs run."""
    final_train = {k: v[-1] for k, v in history.items() if not k.startswith("val_") and v}
    final_val = {k.removeprefix("val_"): v[-1] for k, v in history.items() if k.startswith("val_") and v}
    monitored = [k for k in history if k.startswith("val_")] or list(history)
    return {
        "epochs_run": max((len(v) for v in history.values()), default=0),
        "final": {"train": final_train, "val": final_val},
        "best_epoch": {metric: best_epoch(history, metric) for metric in monitored},
    }


def record_history(ctx: RunContext, history: History) -> None:
    """Write history.csv/json and the learning curves, and summarize them in metrics.json.

    Every experiment reports its per-epoch history through here, Keras or not. The summary
    goes into metrics.json first: a run stopped while its files are written (a second Ctrl-C, a
    full disk) still records how many epochs it ran.
    """
    ctx.record(**summarize_history(history))
    ctx.run_dir.write_history(history)
    name = ctx.config.name
    for metric in curve_metrics(history):
        figure = learning_curves([("", history)], metric, title=f"{name}: {metric.replace('_', ' ')}")
        ctx.run_dir.save_figure(figure, metric)
