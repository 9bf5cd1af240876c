"""What ``run``, ``sweep`` and ``tune`` hand to the trackers: checked up front, fed as runs finish.

A :class:`MlflowTracker` connects (and so proves the store answers) before anything
trains, then logs each finished run directory; a failure to log is reported and never
turns a trained run into a failed one. :class:`SweepTracking` wraps a sweep's
progress callback: the MLflow parent run starts with the sweep, each member is logged
under it as it finishes, and at the end the HParams summaries compare the members.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from dlab.errors import UsageError
from dlab.tracking import mlflow_runs
from dlab.tracking.mlflow_store import connect, resolve_uri
from dlab.tracking.tensorboard import LOG_FOLDER, Session, hparams_metric_names, write_hparams


def warn(message: str) -> None:
    print(f"dlab: warning: {message}", file=sys.stderr, flush=True)


class MlflowTracker:
    """Logs finished run directories to one MLflow store (connected at construction).

    Raises:
        UsageError: from the constructor, when mlflow is missing or the store does not answer.
    """

    def __init__(self, uri: str | None, out: str | os.PathLike[str]) -> None:
        self.uri = resolve_uri(uri, out)
        self.client = connect(self.uri)

    def log_run(
        self, run_path: Path, *, parent_run_id: str | None = None, experiment_name: str | None = None
    ) -> str | None:
        """Log (or bring up to date) one run; returns its MLflow run id, None when logging failed."""
        try:
            run_id, _ = mlflow_runs.log_run(
                self.client,
                self.uri,
                Path(run_path),
                parent_run_id=parent_run_id,
                experiment_name=experiment_name,
            )
        except Exception as error:  # noqa: BLE001 - the run itself is done; say why it is not logged
            warn(f"MLflow logging of {run_path} failed: {type(error).__name__}: {error}")
            if (Path(run_path) / "run.log").is_file():
                with open(Path(run_path) / "run.log", "a", encoding="utf-8") as log:
                    log.write("MLflow logging failed:\n" + traceback.format_exc())
            return None
        print(f"dlab: logged to MLflow ({self.uri}) as run {run_id}", flush=True)
        return run_id


def mlflow_tracker(enabled: bool, uri: str | None, out: str | os.PathLike[str]) -> MlflowTracker | None:
    """A connected tracker under ``--mlflow`` (a bad store stops the run before training), else None.

    Raises:
        UsageError: ``--mlflow-uri`` without ``--mlflow`` (a likely slip), or a store that fails.
    """
    if not enabled:
        if uri:
            raise UsageError(f"--mlflow-uri {uri} is given without --mlflow: add --mlflow to log to it.")
        return None
    return MlflowTracker(uri, out)


def sync(tracker: MlflowTracker, run_paths: list[Path]) -> list[tuple[Path, str, bool]]:
    """``dlab mlflow-sync``: log each run directory unless it already is (by its dlab run id)."""
    return mlflow_runs.sync(tracker.client, tracker.uri, run_paths)


def varied_hparams(rows: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Per sweep row: the keys the sweep varies (config, each ``--grid``/study key, seed) and values.

    Only keys that take more than one value across the rows count: the HParams
    dashboard then shows what tells the members apart.
    """
    per_row: dict[int, dict[str, Any]] = {}
    for row in rows:
        values: dict[str, Any] = {"config": row.get("config")}
        for assignment in row.get("overrides") or []:
            key, _, text = str(assignment).partition("=")
            try:
                values[key] = yaml.safe_load(text)
            except yaml.YAMLError:
                values[key] = text
        if row.get("seed") is not None:
            values["seed"] = row["seed"]
        per_row[int(row["index"])] = values
    keys = {key for values in per_row.values() for key in values}
    varied = {
        key
        for key in keys
        if len({repr(values.get(key)) for values in per_row.values()}) > 1 or len(per_row) == 1
    }
    return {index: {k: v for k, v in values.items() if k in varied} for index, values in per_row.items()}


class SweepTracking:
    """A sweep progress callback that also feeds MLflow (nested runs) and TensorBoard (HParams).

    Args:
        inner: the console's progress callback (or None).
        mlflow: a connected tracker, or None.
        tensorboard: write ``SWEEP/tensorboard`` with the HParams summaries at the end.
    """

    def __init__(
        self,
        inner: Callable[[str, dict[str, Any]], None] | None,
        mlflow: MlflowTracker | None,
        tensorboard: bool,
    ) -> None:
        self.inner = inner
        self.mlflow = mlflow
        self.tensorboard = tensorboard
        self.parent_id: str | None = None
        self.experiment: str | None = None
        self.sweep_dir: Path | None = None

    def __call__(self, event: str, info: dict[str, Any]) -> None:
        if event == "start":
            self._start(info)
        if self.inner is not None:
            self.inner(event, info)
        if event == "finish" and self.mlflow and self.parent_id and info["row"].get("run_dir"):
            self.mlflow.log_run(
                Path(info["row"]["run_dir"]), parent_run_id=self.parent_id, experiment_name=self.experiment
            )
        if event == "end":
            self._end(info["result"], info["plan"])

    def _start(self, info: dict[str, Any]) -> None:
        plan, self.sweep_dir = info["plan"], Path(info["sweep_dir"])
        if self.mlflow is None:
            return
        self.experiment = plan.study.study if plan.study else plan.name
        params = {"sweep.kind": plan.kind, "sweep.members": len(plan.runs), "sweep.seeds": plan.seeds}
        params.update({f"grid.{key}": values for key, values in (plan.grid or {}).items()})
        try:
            self.parent_id = mlflow_runs.start_parent(
                self.mlflow.client,
                self.mlflow.uri,
                self.experiment,
                self.sweep_dir.name,
                {"dlab.sweep": plan.name, "dlab.sweep_dir": str(self.sweep_dir.resolve())},
                params,
            )
        except Exception as error:  # noqa: BLE001 - the sweep runs on without MLflow
            warn(f"MLflow: cannot start the sweep's parent run: {type(error).__name__}: {error}")

    def _end(self, result: Any, plan: Any) -> None:
        if self.tensorboard:
            compared = plan.study.compare.metric if plan.study else None
            try:
                folder = write_sweep_hparams(result.sweep_dir, result.rows, compared)
                print(
                    f"dlab: HParams summaries in {folder} (dlab tensorboard {result.sweep_dir})", flush=True
                )
            except Exception as error:  # noqa: BLE001 - the runs are done; say what is missing
                warn(f"TensorBoard HParams summaries not written: {type(error).__name__}: {error}")
        self.close("FINISHED" if result.exit_code == 0 else "FAILED")

    def close(self, status: str) -> None:
        """End the MLflow parent run (also when the sweep is interrupted: KILLED)."""
        if self.mlflow and self.parent_id:
            try:
                mlflow_runs.finish_parent(self.mlflow.client, self.parent_id, status, self.sweep_dir)
            except Exception as error:  # noqa: BLE001
                warn(f"MLflow: cannot end the sweep's parent run: {type(error).__name__}: {error}")
            self.parent_id = None


def write_sweep_hparams(sweep_dir: Path, rows: list[dict[str, Any]], compared: str | None) -> Path:
    """``SWEEP/tensorboard``: one HParams session per member with a run directory."""
    members = [row for row in rows if row.get("run_dir")]
    hparams = varied_hparams(members)
    sessions, histories = [], {}
    for row in members:
        name = f"{int(row['index']):03d}-{row['config']}"
        sessions.append(Session(name, hparams[int(row["index"])], dict(row.get("metrics") or {})))
        history = mlflow_runs.read_json(Path(row["run_dir"]) / "history.json") or {}
        histories[name] = {k: v for k, v in history.items() if k != "epoch" and isinstance(v, list)}
    return write_hparams(
        Path(sweep_dir) / LOG_FOLDER, sessions, hparams_metric_names(compared, members), histories
    )
