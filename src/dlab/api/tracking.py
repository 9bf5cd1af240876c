"""The tools Keras users already run: TensorBoard on run folders, MLflow for runs trained without it."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from dlab.api.runs import DEFAULT_OUTPUTS
from dlab.results.index import expand_paths
from dlab.tracking.mlflow_runs import Logged
from dlab.tracking.mlflow_sweeps import find_sweeps
from dlab.tracking.session import MlflowTracker, check_register, sync
from dlab.tracking.tensorboard import serve as tensorboard_serve  # noqa: F401 - dlab tensorboard PATH


def mlflow_sync(
    paths: Sequence[str],
    *,
    mlflow_uri: str | None = None,
    out: str | os.PathLike[str] = DEFAULT_OUTPUTS,
    register: str | None = None,
) -> list[Logged]:
    """Log runs trained without ``--mlflow`` (run, sweep or outputs folders), each at most once.

    Members of a sweep folder (given, or found below a path) are nested under the sweep's
    parent run, as ``dlab sweep --mlflow`` nests them. ``register``: make each logged model a
    version of this registered model.

    Returns:
        One :class:`~dlab.tracking.mlflow_runs.Logged` per run: its folder, MLflow run id,
        whether it was logged now (False: it already was), the version registered, notes.

    Raises:
        UsageError: a path that is not a run, a folder that cannot be read (nothing is logged
            then), a store that cannot be used or fails while logging.
    """
    runs = expand_paths(paths)  # checks the paths before the store is touched
    sweeps = find_sweeps(paths)
    check_register(register)
    tracker = MlflowTracker(mlflow_uri, out, register, consequence="Nothing was logged.")
    return sync(tracker, [Path(run.path) for run in runs], sweeps)
