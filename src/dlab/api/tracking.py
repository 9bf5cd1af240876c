"""The tools Keras users already run: TensorBoard on run folders, MLflow for runs trained without it."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from dlab.api.runs import DEFAULT_OUTPUTS
from dlab.results.index import expand_paths
from dlab.tracking.session import mlflow_tracker, sync
from dlab.tracking.tensorboard import serve as tensorboard_serve  # noqa: F401 - dlab tensorboard PATH


def mlflow_sync(
    paths: Sequence[str], *, mlflow_uri: str | None = None, out: str | os.PathLike[str] = DEFAULT_OUTPUTS
) -> list[tuple[Path, str, bool]]:
    """Log runs trained without ``--mlflow`` (run, sweep or outputs folders), each at most once.

    Returns (run directory, MLflow run id, True when logged now / False when it already was).
    """
    runs = expand_paths(paths)
    return sync(mlflow_tracker(True, mlflow_uri, out), [run.path for run in runs])
