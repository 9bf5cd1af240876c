"""K-fold cross-validation: one model per fold, the fold-averaged curve, then a final model on all data."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import keras
import numpy as np

from dlab.errors import ConfigError
from dlab.fileio import atomic_write_json
from dlab.plots import kfold_curve
from dlab.run.history import best_epoch
from dlab.training.callbacks import RunGuardCallback
from dlab.training.compile import compile_model, history_name
from dlab.training.fit import FitResult, fit_and_evaluate, fit_inputs, steps_per_epoch

if TYPE_CHECKING:
    from dlab.data import ArrayDataset
    from dlab.run.context import RunContext


def kfold_splits(n: int, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train indices, validation indices) per fold: contiguous folds that together
    validate every sample exactly once (sizes differ by at most one).

    Raises:
        ConfigError: k < 2 or k larger than the number of samples.
    """
    if not 2 <= k <= n:
        raise ConfigError(f"train.kfold={k} needs 2 <= k <= the {n} training samples.")
    folds = np.array_split(np.arange(n), k)
    return [(np.concatenate([f for j, f in enumerate(folds) if j != i]), folds[i]) for i in range(k)]


def kfold_fit_and_evaluate(
    build_model, data: ArrayDataset, ctx: RunContext, final_model: keras.Model
) -> FitResult:
    """K-fold cross-validation on the training data, then the final model on all of it.

    Each fold gets a fresh model from ``build_model(config, fold_data)``, where
    ``fold_data`` holds only that fold's training part in ``x_train``, so anything
    the model learns from its data at build time (a ``Normalization`` layer's mean
    and variance) never sees the fold it is validated on. Per-fold histories go to
    folds.json; metrics.json gets each fold's final validation metrics, their mean
    and standard deviation, and the epoch where the fold-averaged validation curve
    is best; ``plots/kfold_<metric>.png`` draws that curve raw and smoothed. The
    final model trains ``train.final_epochs`` on all training data and is
    evaluated on the test split like any run.
    """
    config, train = ctx.config, ctx.config.train
    splits = kfold_splits(len(data.x_train), train.kfold)
    folds = [_fit_fold(build_model, data, ctx, index, rows) for index, rows in enumerate(splits, start=1)]
    atomic_write_json(ctx.run_dir.path / "folds.json", folds)
    _record_folds(ctx, folds)
    keras.utils.set_random_seed(config.seed)
    return fit_and_evaluate(final_model, data, ctx, epochs=train.final_epochs)


def _fit_fold(build_model, data: ArrayDataset, ctx: RunContext, index: int, rows: tuple) -> dict[str, Any]:
    """Train a fresh model on one fold's training rows; its final validation metrics and history."""
    config, train = ctx.config, ctx.config.train
    train_rows, val_rows = rows
    fold = replace(
        data,
        x_train=data.x_train[train_rows],
        y_train=data.y_train[train_rows],
        x_val=data.x_train[val_rows],
        y_val=data.y_train[val_rows],
        validation=f"fold {index} of {train.kfold}",
    )
    keras.utils.set_random_seed(config.seed + index)
    model = build_model(config, fold)
    compile_model(model, train, steps_per_epoch(fold, train), fold.num_classes)
    fit_arguments, _ = fit_inputs(fold, train, model=model, seed=config.seed + index)
    fitted = model.fit(
        **fit_arguments,
        epochs=train.epochs,
        verbose=0,
        callbacks=[RunGuardCallback(ctx, time_limit=False)],
    )
    history = {key: [float(v) for v in values] for key, values in fitted.history.items()}
    final_val = {k.removeprefix("val_"): v[-1] for k, v in history.items() if k.startswith("val_")}
    print(f"fold {index}/{train.kfold}: " + ", ".join(f"val {k} {v:.4f}" for k, v in final_val.items()))
    return {
        "fold": index,
        "train_samples": len(train_rows),
        "val_samples": len(val_rows),
        "val": final_val,
        "history": history,
    }


def _record_folds(ctx: RunContext, folds: list[dict[str, Any]]) -> None:
    """Per-fold and mean validation metrics in metrics.json, and the fold-averaged curve's figure."""
    config, train = ctx.config, ctx.config.train
    names = list(folds[0]["val"])
    per_fold = {name: np.array([f["val"][name] for f in folds]) for name in names}
    monitored = f"val_{history_name(train.metrics[0])}" if train.metrics else "val_loss"
    if monitored not in folds[0]["history"]:
        monitored = "val_loss"
    mean_curve = np.mean([f["history"][monitored] for f in folds], axis=0)
    best_mean = best_epoch({monitored: mean_curve.tolist()}, monitored)
    ctx.record(
        kfold={
            "k": train.kfold,
            "folds": [{"fold": f["fold"], "val": f["val"]} for f in folds],
            "mean": {name: float(values.mean()) for name, values in per_fold.items()},
            "std": {name: float(values.std()) for name, values in per_fold.items()},
            "mean_curve": {
                "metric": monitored,
                "best_epoch": best_mean["epoch"],
                "best_value": best_mean["value"],
            },
        }
    )
    ctx.run_dir.save_figure(
        kfold_curve(
            mean_curve.tolist(),
            monitored,
            title=f"{config.name}: {monitored} averaged over {train.kfold} folds",
        ),
        f"kfold_{monitored}",
    )
