"""``dlab run ... --resume RUN_DIR``: which runs can be continued, and from where.

A Keras run backs up its model and optimizer state after every epoch into
``RUN_DIR/backup`` (:class:`dlab.training.RunBackup`, Keras's BackupAndRestore).
Resuming continues that run directory from the last complete epoch: the
history is cut to the epochs the backup holds (a run killed between writing
the history and the backup would otherwise repeat an epoch), and fit appends
the rest. Everything is checked before data is loaded, and a refusal is a
UsageError (exit 2) that says why and what to do instead.

The check takes the run lock before it reads the run's status, and the resume keeps it
(:attr:`ResumePoint.lock`) through data loading, training and the final write: a second
``--resume`` of the same run is refused as "still running" while the first loads its data, and
as "completed" once it is done, instead of continuing from a status read before the first one
finished (it would then rewrite a completed run as failed, its history cut to the old backup).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from dlab.config import flatten_dotted, read_yaml
from dlab.errors import UsageError
from dlab.run.lock import RunLock
from dlab.saferead import load_json

if TYPE_CHECKING:
    from dlab.config import RunConfig

RESUMABLE = ("interrupted", "failed", "running")
"""Statuses a run can be resumed from ("running": the process was killed without a word;
a run whose process still lives holds its run lock and is refused, see :mod:`dlab.run.lock`)."""

IGNORED_KEYS = (
    "name",
    "description",
    "reference",
    "train.max_wall_time",
    "train.steps_per_execution",
    "train.tensorboard",
    "train.backend",  # checked on its own: the backup must be resumed on the backend that wrote it
)
"""Config keys that do not change results, so they may differ on resume."""


class Resumable(Protocol):
    """What resuming asks of an experiment (the run package knows experiments only by this)."""

    def resume_unsupported(self, config: RunConfig) -> str | None:
        """Why ``--resume`` cannot continue this config (None: it can)."""
        ...


@dataclass
class ResumePoint:
    """A run directory that ``--resume`` will continue."""

    path: Path
    metrics: dict[str, Any]
    history: dict[str, list[float]]
    epoch: int
    backup: dict[str, Any] | None = None
    """The backup's metadata, read once: the epoch the history is cut to is the one restored."""
    lock: RunLock | None = None
    """The run lock, held since the check: the resumed run gives it up after its final write."""


def check_resume(run_path: str | Path, config: RunConfig, experiment: Resumable, command: str) -> ResumePoint:
    """Check that ``run_path`` can be continued with ``config``; return where it stopped, holding
    the run's lock (release it with ``point.lock``; a refusal releases it).

    Args:
        run_path: the run directory given to ``--resume``.
        config: the config resolved from this command line.
        experiment: the experiment that runs it.
        command: how to start a new run instead (for the messages).

    Raises:
        UsageError: not a run directory, a run still running in another process, an
            unsupported experiment, a run that completed, or a config that differs from
            the run's (the keys are listed).
    """
    path = Path(run_path).expanduser()
    metrics_file, config_file = path / "metrics.json", path / "config.yaml"
    if not path.is_dir() or not metrics_file.is_file() or not config_file.is_file():
        raise UsageError(
            f"--resume {run_path}: not a run directory (it needs metrics.json and "
            "config.yaml, as dlab run writes them under outputs/<config>/<run>/)."
        )
    lock = RunLock.acquire(path, f"--resume {run_path}", record=False)  # before the status is read
    try:
        point = _check_locked(path, run_path, config, experiment, command)
    except BaseException:
        lock.release()
        raise
    lock.record_owner()
    point.lock = lock
    return point


def _check_locked(
    path: Path, run_path: str | Path, config: RunConfig, experiment: Resumable, command: str
) -> ResumePoint:
    """:func:`check_resume`'s checks, made while this process holds the run lock."""
    metrics_file, config_file = path / "metrics.json", path / "config.yaml"
    try:
        metrics = load_json(metrics_file)
    except (OSError, ValueError) as error:
        raise UsageError(f"--resume {run_path}: cannot read its metrics.json ({error}).") from None
    check_same_backend(run_path, metrics, config.train.backend, command)
    reason = experiment.resume_unsupported(config)
    if reason:
        raise UsageError(
            f"--resume: {config.name} cannot be resumed: {reason}. Start a new run with `{command} --fresh`."
        )
    status = metrics.get("status")
    if status not in RESUMABLE:
        raise UsageError(
            f"--resume {run_path}: that run is {status}; only an interrupted, failed "
            f"or killed run can be resumed. Start a new run with `{command} --fresh`."
        )
    changed = config_changes(config_file, config)
    if changed or metrics.get("config_hash") != config.config_hash():
        listing = "; ".join(changed) or "the run's config_hash differs (config from another dlab?)"
        raise UsageError(
            f"--resume {run_path}: this config is not the run's config "
            f"({listing}). Resume with the same settings (e.g. `dlab run "
            f"{config_file} --resume {run_path}`) or start a new run with "
            f"`{command} --fresh`."
        )

    metadata = read_backup_metadata(path / "backup")
    epoch = int(metadata["epoch"]) if metadata else 0
    history = _read_history(path / "history.json")
    done = max((len(values) for values in history.values()), default=0)
    if done < epoch:
        raise UsageError(
            f"--resume {run_path}: its backup holds {epoch} epochs but history.json "
            f"only {done}; the run directory was changed by hand. Start a new run "
            f"with `{command} --fresh`."
        )
    history = {key: values[:epoch] for key, values in history.items()} if epoch else {}
    return ResumePoint(path=path, metrics=metrics, history=history, epoch=epoch, backup=metadata)


def check_same_backend(run_path: str | Path, metrics: dict[str, Any], requested: str, command: str) -> None:
    """Refuse to resume on another Keras backend than the one that wrote the backup.

    The backup holds the optimizer's state as that backend laid it out, and a run whose
    epochs came from two backends would not be one run. ``auto`` resumes on the run's own
    backend (see :func:`resume_backend`).

    Raises:
        UsageError: ``requested`` names another backend than metrics.json's.
    """
    recorded = metrics.get("backend")
    if requested in ("auto", recorded) or recorded in (None, "numpy"):
        return
    raise UsageError(
        f"--resume {run_path}: that run trained on the {recorded} backend and its backup "
        f"belongs to {recorded}; it cannot continue on {requested}. Resume with --backend "
        f"{recorded} (or auto), or start a new run on {requested} with `{command} --fresh`."
    )


def resume_backend(metrics: dict[str, Any], requested: str) -> str:
    """The backend a resumed run uses: the run's own when ``auto`` is asked for."""
    recorded = metrics.get("backend")
    if requested == "auto" and recorded not in (None, "numpy"):
        return str(recorded)
    return requested


def config_changes(run_config_file: Path, config: RunConfig) -> list[str]:
    """``key: run value -> new value`` for every result-changing key that differs."""
    before = flatten_dotted(read_yaml(run_config_file))
    after = flatten_dotted(config.to_dict())
    changes = []
    for key in sorted(set(before) | set(after)):
        if any(key == ignored or key.startswith(ignored + ".") for ignored in IGNORED_KEYS):
            continue
        if before.get(key, "<unset>") != after.get(key, "<unset>"):
            changes.append(
                f"{key}: {before.get(key, '<unset>')!r} in the run, {after.get(key, '<unset>')!r} now"
            )
    return changes


def read_backup_metadata(backup_dir: Path) -> dict[str, Any] | None:
    """The backup's training_metadata.json, or None when there is no complete backup."""
    path = Path(backup_dir) / "training_metadata.json"
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    weights = str(metadata.get("weights", "")) if isinstance(metadata, dict) else ""
    if Path(weights).name != weights or not (Path(backup_dir) / weights).is_file():
        return None  # no backup, or a weights name that is not a file of this folder
    return metadata


def _read_history(path: Path) -> dict[str, list[float]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {
        key: [float("nan") if v is None else float(v) for v in values]
        for key, values in data.items()
        if key != "epoch" and isinstance(values, list)
    }
