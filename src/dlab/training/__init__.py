"""Training: compile factories, the callbacks, the Keras fit recipe, k-fold, and their history.

Importing this package imports Keras: only code that trains imports it (never
``dlab --help``, ``list`` or ``show``).
"""

from dlab.training.callbacks import EpochTimer, HistoryWriter, RunBackup, RunGuardCallback
from dlab.training.compile import (
    build_loss,
    build_metrics,
    build_optimizer,
    compile_model,
    history_name,
    learning_rate,
    targets,
)
from dlab.training.fit import (
    FitResult,
    count_params,
    fit_and_evaluate,
    fit_inputs,
    is_stream,
    model_summary,
    steps_per_epoch,
    train_size,
)
from dlab.training.kfold import kfold_fit_and_evaluate, kfold_splits

__all__ = [
    "EpochTimer",
    "FitResult",
    "HistoryWriter",
    "RunBackup",
    "RunGuardCallback",
    "build_loss",
    "build_metrics",
    "build_optimizer",
    "compile_model",
    "count_params",
    "fit_and_evaluate",
    "fit_inputs",
    "history_name",
    "is_stream",
    "kfold_fit_and_evaluate",
    "kfold_splits",
    "learning_rate",
    "model_summary",
    "steps_per_epoch",
    "targets",
    "train_size",
]
