"""One MLflow run per dlab run, written from what the run directory holds.

Everything comes from dlab's own files (config.yaml, history.json, metrics.json,
trials.json, model.keras), read whole beforehand (:mod:`dlab.tracking.mlflow_read`),
never from MLflow's Keras autolog: autolog is pinned to older Keras versions and has
logged nothing for 1-epoch runs. Because the run directory is the only input, a run
trained without ``--mlflow`` is logged the same way later (``dlab mlflow-sync``).

Logging a run is idempotent, also between processes:

- the tag ``dlab.run_id`` (``<config>/<run folder>``) finds a run logged before; it is
  left alone when it is up to date (same dlab status and epochs, logging complete, its
  model logged) and brought up to date otherwise (a resumed run: only the new epochs);
- finding and logging happen under the store's lock (:mod:`dlab.tracking.mlflow_locks`),
  so two syncs never both create the run;
- a run is created with ``dlab.logging=incomplete``, set to ``complete`` at the end; a
  failure in between ends the MLflow run FAILED with the error in ``dlab.log_error``,
  and the next sync (or resume) completes it instead of skipping it.

MLflow run names are ``CONFIG · LABEL``: what tells the run apart where that is known
(a sweep member's grid values and seed), else the short id of its folder.
"""

from __future__ import annotations

import json
import math
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlab.config import flatten_dotted
from dlab.tracking import mlflow_model
from dlab.tracking.mlflow_locks import store_lock
from dlab.tracking.mlflow_read import RunFolder
from dlab.tracking.mlflow_store import brief, experiment_id

STATUS = {"completed": "FINISHED", "failed": "FAILED", "interrupted": "KILLED"}
"""dlab status -> MLflow run status."""

RUN_ID_TAG = "dlab.run_id"
LOGGING_TAG = "dlab.logging"
ERROR_TAG = "dlab.log_error"
MODEL_ERROR_TAG = "dlab.model_error"
"""Why model.keras is a plain artifact, not an MLflow model (so a sync does not try again)."""
NAME_SEPARATOR = " · "
_BAD_KEY = re.compile(r"[^A-Za-z0-9_\-. /]")
_MAX_PARAM = 6000


@dataclass
class Logged:
    """What happened to one run folder: its MLflow run, whether anything was logged now,
    the model version registered (``NAME version N``) and notes for the user."""

    run_dir: Path
    run_id: str
    new: bool
    registered: str | None = None
    notes: list[str] = field(default_factory=list)


def run_name(config: str, label: str) -> str:
    """``CONFIG · LABEL`` (``mlp-mnist · learning_rate=0.1 seed=2``, ``mlp-mnist · 3fa2c1``)."""
    return f"{config}{NAME_SEPARATOR}{label}"


def _key(name: str) -> str:
    return _BAD_KEY.sub("_", str(name))[:250]


def _millis(iso: Any) -> int | None:
    if not isinstance(iso, str):
        return None
    try:
        return int(time.mktime(time.strptime(iso, "%Y-%m-%dT%H:%M:%S%z")) * 1000)
    except ValueError:
        return None


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def params_of(run: RunFolder) -> dict[str, str]:
    """The flattened resolved config (``train.optimizer.learning_rate`` ...) as MLflow params."""
    config = {k: v for k, v in run.config.items() if k not in ("description", "reference")}
    flat = flatten_dotted(config)
    return {_key(k): json.dumps(v) if isinstance(v, list | dict) else str(v) for k, v in flat.items()}


def tags_of(run: RunFolder, label: str | None = None) -> dict[str, str]:
    """Config name, experiment, dlab status, smoke, seed, device, config hash, where the run is."""
    metrics = run.metrics
    device = metrics.get("device") or {}
    if isinstance(device, dict):
        device = device.get("used") or device.get("name") or device
    return {
        RUN_ID_TAG: run.identity,
        "mlflow.runName": run_name(run.config_name, label or run.short_id),
        "dlab.config": run.config_name,
        "dlab.framework": str(metrics.get("experiment")),
        "dlab.status": run.status,
        "dlab.epochs_run": str(metrics.get("epochs_run")),
        "dlab.smoke": str(bool(metrics.get("smoke"))).lower(),
        "dlab.seed": str(metrics.get("seed")),
        "dlab.device": str(device) if device else "",
        "dlab.config_hash": str(metrics.get("config_hash")),
        "dlab.run_dir": str(run.path),
        **user_tags(metrics),
    }


def user_tags(metrics: dict[str, Any]) -> dict[str, str]:
    """The run's own tags (``--tag``, ``dlab tag``) as MLflow tags of the same name, its note as
    the run's MLflow description, and where it came from (git commit, the command) as MLflow's
    source tags. A user's tag never replaces one of MLflow's or dlab's (``mlflow.*``, ``dlab.*``):
    it is kept as ``user.KEY`` instead."""
    tags = metrics.get("tags") if isinstance(metrics.get("tags"), dict) else {}
    found = {
        (f"user.{key}" if str(key).startswith(("mlflow.", "dlab.")) else str(key)): str(value)
        for key, value in tags.items()
    }
    if isinstance(metrics.get("note"), str) and metrics["note"]:
        found["mlflow.note.content"] = metrics["note"]
    provenance = metrics.get("provenance") if isinstance(metrics.get("provenance"), dict) else {}
    git = provenance.get("git") if isinstance(provenance.get("git"), dict) else {}
    if git.get("commit"):
        found["mlflow.source.git.commit"] = str(git["commit"])
        found["dlab.git_dirty"] = str(git.get("dirty")).lower()
    if isinstance(provenance.get("request"), list):
        found["dlab.command"] = " ".join(str(part) for part in provenance["request"])
    return found


def last_epoch(run: RunFolder) -> int:
    epochs = run.history.get("epoch") or []
    try:
        return int(epochs[-1]) if epochs else int(run.metrics.get("epochs_run") or 0)
    except (TypeError, ValueError):
        return 0


def metric_points(run: RunFolder) -> list[tuple[str, float, int]]:
    """(key, value, step): every history column at ``step=epoch``, then the test metrics and timings."""
    epochs = run.history.get("epoch") or []
    points = []
    for column, values in run.history.items():
        if column == "epoch" or not isinstance(values, list):
            continue
        for index, value in enumerate(values):
            if _number(value):
                step = epochs[index] if index < len(epochs) and _number(epochs[index]) else index + 1
                points.append((_key(column), float(value), int(step)))
    last = last_epoch(run)
    metrics = run.metrics
    test = metrics.get("test") if isinstance(metrics.get("test"), dict) else {}
    for key, value in test.items():
        if _number(value):
            points.append((_key(f"test_{key}"), float(value), last))
    timing = metrics.get("timing") if isinstance(metrics.get("timing"), dict) else {}
    for key in ("time_per_epoch_s", "train_samples_per_s"):
        if _number(timing.get(key)):
            points.append((key, float(timing[key]), last))
    if _number(metrics.get("wall_time_s")):
        points.append(("wall_time_s", float(metrics["wall_time_s"]), last))
    return points


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


def find_logged(client: Any, run_id: str) -> Any:
    """The MLflow run already logged for this dlab run (any experiment), or None."""
    ids = [e.experiment_id for e in client.search_experiments()]
    if not ids:
        return None
    found = client.search_runs(ids, filter_string=f"tags.`{RUN_ID_TAG}` = '{_quoted(run_id)}'", max_results=1)
    return found[0] if found else None


def up_to_date(client: Any, existing: Any, run: RunFolder) -> bool:
    """Logged completely, at the run's present status and epochs, with its model when it has one."""
    tags = existing.data.tags
    if tags.get(LOGGING_TAG, "complete") != "complete" or tags.get("dlab.status") != run.status:
        return False
    if tags.get("dlab.epochs_run", str(run.metrics.get("epochs_run"))) != str(run.metrics.get("epochs_run")):
        return False
    if run.model_file is None or MODEL_ERROR_TAG in tags:
        return True
    found = mlflow_model.find_logged_model(client, existing.info.experiment_id, existing.info.run_id)
    return found is not None


def log_batches(client: Any, run_id: str, metrics=(), params=(), tags=()) -> None:
    """Metrics, params and tags in as few calls as MLflow allows (1000 metrics, 100 params or tags each)."""
    from mlflow.entities import Metric, Param, RunTag

    now = int(time.time() * 1000)
    metric_list = [Metric(k, v, now, s) for k, v, s in metrics]
    param_list = [Param(k, v[:_MAX_PARAM]) for k, v in params]
    tag_list = [RunTag(k, v[:_MAX_PARAM]) for k, v in tags]
    for start in range(0, len(metric_list), 1000):
        client.log_batch(run_id, metrics=metric_list[start : start + 1000])
    for start in range(0, len(param_list), 100):
        client.log_batch(run_id, params=param_list[start : start + 100])
    for start in range(0, len(tag_list), 100):
        client.log_batch(run_id, tags=tag_list[start : start + 100])


def log_run(
    client: Any,
    uri: str,
    run: RunFolder,
    *,
    parent_run_id: str | None = None,
    experiment_name: str | None = None,
    label: str | None = None,
    register: str | None = None,
) -> Logged:
    """Log one run folder as one MLflow run (its trials too, for a keras-tuner search), with its
    model as an MLflow model; or bring a run logged before up to date; or leave it.

    Args:
        parent_run_id: nest the run under this one (a sweep's parent run).
        experiment_name: the MLflow experiment (default: the run's config name).
        label: what tells the run apart, for its name (default: its folder's short id).
        register: also make its model a version of this registered model.

    Raises:
        Exception: the store failed; the MLflow run, when it was created, is ended FAILED.
    """
    existing = find_logged(client, run.identity)
    current = existing is not None and up_to_date(client, existing, run)
    if current and register is None:  # the usual second sync: no lock, no model to build
        return Logged(run.path, existing.info.run_id, False)
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="dlab-mlflow-model-") as scratch:
        model_dir = None if current else _built_model(run, Path(scratch), notes)  # before the lock
        with store_lock(uri, f"logging {run.identity}"):
            existing = find_logged(client, run.identity)  # another process may have logged it
            if existing is not None and up_to_date(client, existing, run):
                return _unchanged(client, existing, run, register)
            tags = tags_of(run, label)
            if parent_run_id:
                tags["mlflow.parentRunId"] = parent_run_id
            target = _target(client, uri, run, existing, tags, experiment_name)
            try:
                return _write(client, target, run, tags, model_dir, register, notes)
            except BaseException as error:
                _end_failed(client, target.info.run_id, error)
                raise


def _target(
    client: Any, uri: str, run: RunFolder, existing: Any, tags: dict[str, str], experiment_name: str | None
) -> Any:
    """The MLflow run to write: the one logged before, or a new one; marked incomplete until done."""
    if existing is not None:
        client.set_tag(existing.info.run_id, LOGGING_TAG, "incomplete")
        return existing
    experiment = experiment_id(client, experiment_name or run.config_name, uri)
    start = _millis(run.metrics.get("started_at"))
    return client.create_run(experiment, start_time=start, tags={**tags, LOGGING_TAG: "incomplete"})


def _unchanged(client: Any, existing: Any, run: RunFolder, register: str | None) -> Logged:
    """A run logged before and up to date: only registered, when asked (once per run)."""
    if register is None:
        return Logged(run.path, existing.info.run_id, False)
    model = mlflow_model.find_logged_model(client, existing.info.experiment_id, existing.info.run_id)
    if model is None:
        return Logged(run.path, existing.info.run_id, False, notes=[_nothing_to_register(run)])
    version = mlflow_model.register(client, register, existing.info.run_id, model)
    return Logged(run.path, existing.info.run_id, False, f"{register} version {version.version}")


def _nothing_to_register(run: RunFolder) -> str:
    if run.model_file is None:
        return f"{run.identity} has no model.keras (a NumPy run, or --no-save): nothing to register"
    return f"{run.identity}: its model.keras is not an MLflow model (see above), so it was not registered"


def _built_model(run: RunFolder, scratch: Path, notes: list[str]) -> Path | None:
    """The run's MLflow model folder; None, with a note, when the model cannot be made."""
    try:
        return mlflow_model.build(run, scratch)
    except Exception as error:  # noqa: BLE001 - the run is logged anyway, model.keras as a file
        notes.append(
            f"{run.identity}: model.keras could not be made an MLflow model ({brief(error)}); "
            "it is logged as a plain artifact instead"
        )
        return None


def _write(
    client: Any,
    target: Any,
    run: RunFolder,
    tags: dict[str, str],
    model_dir: Path | None,
    register: str | None,
    notes: list[str],
) -> Logged:
    """Everything of the run that the MLflow run lacks, then its status (under the store lock)."""
    mlflow_id, experiment = target.info.run_id, target.info.experiment_id
    logged_params = dict(target.data.params)
    steps = {key: _last_step(client, mlflow_id, key) for key in target.data.metrics}
    params = [(k, v) for k, v in params_of(run).items() if k not in logged_params]
    points = [p for p in metric_points(run) if p[2] > steps.get(p[0], -1)]
    log_batches(client, mlflow_id, points, params, tags.items())
    for name in run.files:
        client.log_artifact(mlflow_id, str(run.path / name))
    for plot in run.plots:
        client.log_artifact(mlflow_id, str(run.path / plot), "plots")
    model = mlflow_model.find_logged_model(client, experiment, mlflow_id) if model_dir else None
    if model_dir is not None and model is None:
        model = mlflow_model.log_model(
            client, experiment, mlflow_id, model_dir, last_epoch(run), {RUN_ID_TAG: run.identity}
        )
    elif model_dir is None and run.model_file is not None:
        client.log_artifact(mlflow_id, str(run.model_file))
        client.set_tag(mlflow_id, MODEL_ERROR_TAG, notes[-1] if notes else "not made")
    registered = None
    if register is not None and model is not None:
        version = mlflow_model.register(client, register, mlflow_id, model)
        registered = f"{register} version {version.version}"
    elif register is not None:
        notes.append(_nothing_to_register(run))
    log_trials(client, run, mlflow_id, tags)
    if ERROR_TAG in target.data.tags:
        client.delete_tag(mlflow_id, ERROR_TAG)
    client.set_tag(mlflow_id, LOGGING_TAG, "complete")
    status = STATUS.get(run.status)
    if status is not None:
        client.set_terminated(mlflow_id, status=status, end_time=_millis(run.metrics.get("finished_at")))
    return Logged(run.path, mlflow_id, True, registered, notes)


def _end_failed(client: Any, run_id: str, error: BaseException) -> None:
    """A run whose logging broke off is FAILED (KILLED on Ctrl-C), not RUNNING forever."""
    status = "KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED"
    try:
        client.set_tag(run_id, ERROR_TAG, brief(error))
        client.set_terminated(run_id, status=status)
    except Exception:  # noqa: BLE001, S110 - the store itself failed: the tag stays incomplete
        pass


def _last_step(client: Any, run_id: str, key: str) -> int:
    return max((m.step for m in client.get_metric_history(run_id, key)), default=-1)


TRIAL_STATUS = {"COMPLETED": "FINISHED", "FAILED": "FAILED", "INVALID": "FAILED", "STOPPED": "KILLED"}


def log_trials(client: Any, run: RunFolder, parent_id: str, parent_tags: dict[str, str]) -> None:
    """A keras-tuner search's trials (trials.json) as runs nested under the search's run."""
    rows = run.trials
    if not rows:
        return
    parent = client.get_run(parent_id)
    done = {
        child.data.tags.get("dlab.trial")
        for child in client.search_runs(
            [parent.info.experiment_id], filter_string=f"tags.`mlflow.parentRunId` = '{parent_id}'"
        )
    }
    fixed = {"trial", "trial_id", "status", "score", "best_epoch", "error"}
    for row in rows:
        if not isinstance(row, dict) or str(row.get("trial")) in done:
            continue
        tags = {
            "mlflow.parentRunId": parent_id,
            "mlflow.runName": run_name(run.config_name, f"trial {row.get('trial')}"),
            "dlab.trial": str(row.get("trial")),
            "dlab.config": parent_tags.get("dlab.config", ""),
            "dlab.status": str(row.get("status")),
        }
        if row.get("error"):
            tags["dlab.error"] = str(row["error"])
        child = client.create_run(parent.info.experiment_id, tags=tags)
        params = [(_key(k), str(v)) for k, v in row.items() if k not in fixed]
        points = [
            (key, float(row[key]), int(row.get("best_epoch") or 0))
            for key in ("score", "best_epoch")
            if _number(row.get(key))
        ]
        log_batches(client, child.info.run_id, points, params)
        client.set_terminated(child.info.run_id, status=TRIAL_STATUS.get(str(row.get("status")), "FAILED"))
