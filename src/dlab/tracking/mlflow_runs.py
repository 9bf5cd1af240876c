"""One MLflow run per dlab run, written from what the run directory holds.

Everything comes from dlab's own files (config.yaml, history.json, metrics.json,
trials.json), never from MLflow's Keras autolog: autolog is pinned to older Keras
versions and has logged nothing for 1-epoch runs. Because the run directory is the
only input, a run trained without ``--mlflow`` is logged the same way later
(``dlab mlflow-sync``), and the tag ``dlab.run_id`` (``<config>/<run folder>``) keeps
any run from being logged twice.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from dlab.config import flatten_dotted
from dlab.tracking.mlflow_store import experiment_id

STATUS = {"completed": "FINISHED", "failed": "FAILED", "interrupted": "KILLED"}
"""dlab status -> MLflow run status."""

RUN_ID_TAG = "dlab.run_id"
ARTIFACTS = ("config.yaml", "metrics.json", "history.csv", "summary.txt", "run.log", "trials.csv")
_BAD_KEY = re.compile(r"[^A-Za-z0-9_\-. /]")
_MAX_PARAM = 6000


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def dlab_run_id(run_path: Path, metrics: dict[str, Any]) -> str:
    """The run's identity across logs: ``<config name>/<run folder name>``."""
    return f"{metrics.get('config') or run_path.parent.name}/{run_path.name}"


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


def params_of(run_path: Path) -> dict[str, str]:
    """The flattened resolved config (``train.optimizer.learning_rate`` ...) as MLflow params."""
    try:
        config = yaml.safe_load((run_path / "config.yaml").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return {}
    flat = flatten_dotted({k: v for k, v in config.items() if k not in ("description", "reference")})
    return {_key(k): json.dumps(v) if isinstance(v, list | dict) else str(v) for k, v in flat.items()}


def tags_of(run_path: Path, metrics: dict[str, Any]) -> dict[str, str]:
    """Config name, experiment, dlab status, smoke, seed, device, config hash, and where the run is."""
    device = metrics.get("device") or {}
    return {
        RUN_ID_TAG: dlab_run_id(run_path, metrics),
        "mlflow.runName": run_path.name,
        "dlab.config": str(metrics.get("config")),
        "dlab.framework": str(metrics.get("experiment")),
        "dlab.status": str(metrics.get("status")),
        "dlab.smoke": str(bool(metrics.get("smoke"))).lower(),
        "dlab.seed": str(metrics.get("seed")),
        "dlab.device": str(device.get("used") or device.get("name") or device) if device else "",
        "dlab.config_hash": str(metrics.get("config_hash")),
        "dlab.run_dir": str(run_path.resolve()),
    }


def metric_points(run_path: Path, metrics: dict[str, Any]) -> list[tuple[str, float, int]]:
    """(key, value, step): every history column at ``step=epoch``, then the test metrics and timings."""
    history = read_json(run_path / "history.json") or {}
    epochs = history.get("epoch") or []
    points = []
    for column, values in history.items():
        if column == "epoch" or not isinstance(values, list):
            continue
        for index, value in enumerate(values):
            if _number(value):
                step = int(epochs[index]) if index < len(epochs) else index + 1
                points.append((_key(column), float(value), step))
    last = int(epochs[-1]) if epochs else int(metrics.get("epochs_run") or 0)
    for key, value in (metrics.get("test") or {}).items():
        if _number(value):
            points.append((_key(f"test_{key}"), float(value), last))
    timing = metrics.get("timing") or {}
    for key in ("time_per_epoch_s", "train_samples_per_s"):
        if _number(timing.get(key)):
            points.append((key, float(timing[key]), last))
    if _number(metrics.get("wall_time_s")):
        points.append(("wall_time_s", float(metrics["wall_time_s"]), last))
    return points


def find_logged(client: Any, run_id: str) -> Any:
    """The MLflow run already logged for this dlab run (any experiment), or None."""
    ids = [e.experiment_id for e in client.search_experiments()]
    if not ids:
        return None
    found = client.search_runs(ids, filter_string=f"tags.`{RUN_ID_TAG}` = '{run_id}'", max_results=1)
    return found[0] if found else None


def _log_batches(client: Any, run_id: str, metrics=(), params=(), tags=()) -> None:
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
    run_path: Path,
    *,
    parent_run_id: str | None = None,
    experiment_name: str | None = None,
    update: bool = True,
) -> tuple[str, bool]:
    """Log one run directory as one MLflow run (its children too, for a keras-tuner search).

    Args:
        parent_run_id: nest the run under this one (a sweep's parent run).
        experiment_name: the MLflow experiment (default: the run's config name).
        update: when the run was logged before, bring it up to date (a resumed run: the
            new epochs, its new status); False leaves it as it is (``mlflow-sync``).

    Returns:
        (MLflow run id, True when something was logged).
    """
    run_path = Path(run_path).resolve()
    metrics = read_json(run_path / "metrics.json")
    if not isinstance(metrics, dict):
        raise ValueError(f"{run_path} is not a run directory (no readable metrics.json)")
    identity = dlab_run_id(run_path, metrics)
    existing = find_logged(client, identity)
    if existing is not None and not update:
        return existing.info.run_id, False
    tags = tags_of(run_path, metrics)
    if parent_run_id:
        tags["mlflow.parentRunId"] = parent_run_id
    if existing is None:
        experiment = experiment_id(client, experiment_name or str(metrics.get("config")), uri)
        run = client.create_run(experiment, start_time=_millis(metrics.get("started_at")), tags=tags)
        mlflow_id, logged_params, steps = run.info.run_id, {}, {}
    else:
        mlflow_id, logged_params = existing.info.run_id, dict(existing.data.params)
        steps = {key: _last_step(client, mlflow_id, key) for key in existing.data.metrics}
    params = [(k, v) for k, v in params_of(run_path).items() if k not in logged_params]
    points = [p for p in metric_points(run_path, metrics) if p[2] > steps.get(p[0], -1)]
    _log_batches(client, mlflow_id, points, params, tags.items())
    for name in ARTIFACTS:
        if (run_path / name).is_file():
            client.log_artifact(mlflow_id, str(run_path / name))
    if (run_path / "plots").is_dir():
        client.log_artifacts(mlflow_id, str(run_path / "plots"), "plots")
    if (run_path / "model.keras").is_file():
        client.log_artifact(mlflow_id, str(run_path / "model.keras"))
    log_trials(client, run_path, mlflow_id, tags)
    status = STATUS.get(str(metrics.get("status")))
    if status is not None:
        client.set_terminated(mlflow_id, status=status, end_time=_millis(metrics.get("finished_at")))
    return mlflow_id, True


def _last_step(client: Any, run_id: str, key: str) -> int:
    return max((m.step for m in client.get_metric_history(run_id, key)), default=-1)


TRIAL_STATUS = {"COMPLETED": "FINISHED", "FAILED": "FAILED", "INVALID": "FAILED", "STOPPED": "KILLED"}


def log_trials(client: Any, run_path: Path, parent_id: str, parent_tags: dict[str, str]) -> None:
    """A keras-tuner search's trials (trials.json) as runs nested under the search's run."""
    rows = read_json(run_path / "trials.json")
    if not isinstance(rows, list) or not rows:
        return
    parent = client.get_run(parent_id)
    done = {
        run.data.tags.get("dlab.trial")
        for run in client.search_runs(
            [parent.info.experiment_id], filter_string=f"tags.`mlflow.parentRunId` = '{parent_id}'"
        )
    }
    fixed = {"trial", "trial_id", "status", "score", "best_epoch", "error"}
    for row in rows:
        if not isinstance(row, dict) or str(row.get("trial")) in done:
            continue
        tags = {
            "mlflow.parentRunId": parent_id,
            "mlflow.runName": f"trial {row.get('trial')}",
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
        _log_batches(client, child.info.run_id, points, params)
        client.set_terminated(child.info.run_id, status=TRIAL_STATUS.get(str(row.get("status")), "FAILED"))


def start_parent(
    client: Any, uri: str, experiment_name: str, name: str, tags: dict[str, str], params: dict[str, Any]
) -> str:
    """A parent run (a sweep) that member runs nest under; returns its id."""
    experiment = experiment_id(client, experiment_name, uri)
    run = client.create_run(experiment, tags={"mlflow.runName": name, **tags})
    _log_batches(client, run.info.run_id, params=[(_key(k), str(v)) for k, v in params.items()])
    return run.info.run_id


def finish_parent(client: Any, run_id: str, status: str, sweep_path: Path | None = None) -> None:
    """End a parent run; its summary files become artifacts."""
    if sweep_path is not None:
        for name in ("summary.csv", "summary.json", "seeds.csv"):
            if (sweep_path / name).is_file():
                client.log_artifact(run_id, str(sweep_path / name))
    client.set_terminated(run_id, status=status)


def sync(client: Any, uri: str, run_paths: Iterable[Path]) -> list[tuple[Path, str, bool]]:
    """Log run directories that were trained without ``--mlflow``; each at most once.

    Returns:
        (run directory, MLflow run id, True when logged now / False when it already was).
    """
    return [(path, *log_run(client, uri, path, update=False)) for path in run_paths]
