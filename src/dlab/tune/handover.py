"""The best trial's checkpoint, handed from a worker to the chief through a shared folder.

keras-tuner's distributed mode sends trials and metrics over gRPC, never weights: every
worker keeps the checkpoints of the trials it ran. Without more, the chief of a dlab
search retrains the best config after the search, which costs about one more trial of
serial time. When the chief and its workers see one folder under the same path
(``--shared-dir``: a cluster's shared disk, NFS, or simply one machine), the workers
write their trial folders there instead of into a scratch folder, and the chief copies
the best trial's checkpoint into its own run directory and evaluates it. That is also
keras-tuner's own layout for a distributed search (one project folder for every tuner),
so Hyperband's later rounds find the checkpoints of trials another worker ran.

Each search gets its own folder under the shared one, named from the search's
fingerprint and the chief's port, which the chief empties before it serves. A worker
writes :data:`CLAIM_FILE` beside a checkpoint once its trial has ended, naming the
trial and its hyperparameters; the chief takes a checkpoint only with a claim that
matches its best trial, and retrains (saying why) when there is none.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dlab.tune.layout import PROJECT_NAME
from dlab.tune.resume import fingerprint, fingerprint_hash

if TYPE_CHECKING:
    from dlab.config import RunConfig

CLAIM_FILE = "dlab-trial.json"
CHECKPOINT_FILES = ("checkpoint.weights.h5", "build_config.json")
"""What keras-tuner (multi-backend) keeps per trial and reads back in ``load_model``."""


def search_folder(shared_dir: str | Path, config: RunConfig, port: int) -> Path:
    """This search's folder under ``shared_dir``: the same on the chief and on every worker
    given the same config, flags and chief port."""
    return Path(shared_dir) / f"dlab-tune-{fingerprint_hash(fingerprint(config))[:12]}-{port}"


def claim(trial_dir: str | Path, trial: Any, worker: str) -> None:
    """Mark ``trial_dir`` (a worker's) as holding ``trial``'s final checkpoint."""
    record = {
        "trial_id": str(trial.trial_id),
        "status": str(trial.status),
        "worker": worker,
        "hyperparameters": trial.hyperparameters.values,
    }
    path = Path(trial_dir) / CLAIM_FILE
    path.write_text(json.dumps(record, default=str))


def take_checkpoint(folder: Path, trial: Any, chief_trial_dir: str | Path) -> str | None:
    """Copy ``trial``'s checkpoint from the search ``folder`` into ``chief_trial_dir``.

    Returns:
        The id of the worker that wrote it, or None where no claimed checkpoint of this
        trial (same id, same hyperparameters, completed) is in the folder.
    """
    source = folder / PROJECT_NAME / f"trial_{trial.trial_id}"
    try:
        record = json.loads((source / CLAIM_FILE).read_text())
    except (OSError, ValueError):
        return None
    wanted = json.loads(json.dumps(trial.hyperparameters.values, default=str))
    if (
        record.get("trial_id") != str(trial.trial_id)
        or record.get("status") != "COMPLETED"
        or record.get("hyperparameters") != wanted
        or not all((source / name).is_file() for name in CHECKPOINT_FILES)
    ):
        return None
    Path(chief_trial_dir).mkdir(parents=True, exist_ok=True)
    for name in CHECKPOINT_FILES:
        shutil.copyfile(source / name, Path(chief_trial_dir) / name)
    return str(record.get("worker"))


def take_best(
    folder: Path, trial: Any, get_trial: Callable[[str], Any], trial_dir: Callable[[str], str | Path]
) -> str | None:
    """:func:`take_checkpoint` for ``trial`` and the trials it continues.

    Hyperband rebuilds a continued trial's model from the trial it continues (its
    ``tuner/trial_id``) before loading the trial's own weights, so the chief needs that
    chain's checkpoints too. ``get_trial`` is the oracle's, ``trial_dir`` the chief
    tuner's. Returns the best trial's worker, or None if a checkpoint of the chain is missing.
    """
    worker = take_checkpoint(folder, trial, trial_dir(trial.trial_id))
    parent = trial.hyperparameters.values.get("tuner/trial_id")
    while worker is not None and parent:
        ancestor = get_trial(parent)
        if take_checkpoint(folder, ancestor, trial_dir(parent)) is None:
            return None
        parent = ancestor.hyperparameters.values.get("tuner/trial_id")
    return worker


def clear(folder: Path) -> None:
    """Remove a search folder (the chief does so before serving, and after taking the best)."""
    shutil.rmtree(folder, ignore_errors=True)
