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

from dlab.errors import UsageError
from dlab.fileio import read_json_object
from dlab.tracking import mlflow_runs, mlflow_sweeps, mlflow_sync
from dlab.tracking.mlflow_read import read_run_folder
from dlab.tracking.mlflow_store import connect, resolve_uri, store_error
from dlab.tracking.mlflow_sweeps import SweepFolder, varied_hparams
from dlab.tracking.tensorboard import LOG_FOLDER, Session, hparams_metric_names, write_hparams


def warn(message: str) -> None:
    print(f"dlab: warning: {message}", file=sys.stderr, flush=True)


class MlflowTracker:
    """Logs finished run directories to one MLflow store (connected at construction).

    Args:
        register: make each logged model a version of this registered model.
        consequence: what a store that fails at construction means ("Nothing was trained.").

    Raises:
        UsageError: from the constructor, when mlflow is missing or the store cannot be used.
    """

    def __init__(
        self,
        uri: str | None,
        out: str | os.PathLike[str],
        register: str | None = None,
        consequence: str = "Nothing was trained.",
    ) -> None:
        self.uri = resolve_uri(uri, out)
        self.register = register
        self.client = connect(self.uri, consequence)

    def log_run(
        self,
        run_path: Path,
        *,
        parent_run_id: str | None = None,
        experiment_name: str | None = None,
        label: str | None = None,
    ) -> str | None:
        """Log (or bring up to date) one run; returns its MLflow run id, None when logging failed."""
        try:
            logged = mlflow_runs.log_run(
                self.client,
                self.uri,
                read_run_folder(run_path),
                parent_run_id=parent_run_id,
                experiment_name=experiment_name,
                label=label,
                register=self.register,
            )
        except Exception as error:  # noqa: BLE001 - the run itself is done; say why it is not logged
            if not isinstance(error, UsageError):  # a store problem, said in one line
                error = store_error(self.uri, error, "The run itself is unchanged.", doing="logging it")
            reason = str(error)
            warn(f"MLflow logging of {run_path} failed: {reason}")
            if (Path(run_path) / "run.log").is_file():
                with open(Path(run_path) / "run.log", "a", encoding="utf-8") as log:
                    log.write("MLflow logging failed:\n" + traceback.format_exc())
            return None
        for note in logged.notes:
            warn(f"MLflow: {note}")
        registered = f"; model registered as {logged.registered}" if logged.registered else ""
        print(f"dlab: logged to MLflow ({self.uri}) as run {logged.run_id}{registered}", flush=True)
        return logged.run_id


def mlflow_tracker(
    enabled: bool, uri: str | None, out: str | os.PathLike[str], register: str | None = None
) -> MlflowTracker | None:
    """A connected tracker under ``--mlflow`` (a bad store stops the run before training), else None.

    Raises:
        UsageError: ``--mlflow-uri`` or ``--register`` without ``--mlflow`` (a likely slip), or
            a store that fails.
    """
    if not enabled:
        if uri:
            raise UsageError(f"--mlflow-uri {uri} is given without --mlflow: add --mlflow to log to it.")
        if register:
            raise UsageError(
                f"--register {register} is given without --mlflow: add --mlflow to log the model to "
                "MLflow and register it."
            )
        return None
    check_register(register)
    return MlflowTracker(uri, out, register)


def check_register(name: str | None) -> None:
    """Refuse an empty ``--register`` name before anything starts.

    Raises:
        UsageError: a name of only spaces.
    """
    if name is not None and not name.strip():
        raise UsageError("--register: give the name of the registered model (e.g. --register mnist-mlp).")


def sync(
    tracker: MlflowTracker, run_paths: list[Path], sweeps: list[SweepFolder] = ()
) -> list[mlflow_runs.Logged]:
    """``dlab mlflow-sync``: see :mod:`dlab.tracking.mlflow_sync`."""
    return mlflow_sync.sync(tracker.client, tracker.uri, run_paths, list(sweeps), tracker.register)


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
        self.labels: dict[int, str] = {}
        self.sweep_dir: Path | None = None

    def __call__(self, event: str, info: dict[str, Any]) -> None:
        if event == "start":
            self._start(info)
        if self.inner is not None:
            self.inner(event, info)
        if event == "finish" and self.mlflow and self.parent_id and info["row"].get("run_dir"):
            row = info["row"]
            self.mlflow.log_run(
                Path(row["run_dir"]),
                parent_run_id=self.parent_id,
                experiment_name=self.experiment,
                label=self.labels.get(int(row.get("index", -1))) or None,
            )
        if event == "end":
            self._end(info["result"], info["plan"])

    def _start(self, info: dict[str, Any]) -> None:
        """The parent run, from the summary.json the sweep has just written (as mlflow-sync reads it)."""
        self.sweep_dir = Path(info["sweep_dir"])
        if self.mlflow is None:
            return
        try:
            sweep = mlflow_sweeps.read_sweep(self.sweep_dir)
            if sweep is None:
                raise FileNotFoundError(f"{self.sweep_dir}/{mlflow_sweeps.SUMMARY} is missing")
            self.experiment = sweep.experiment
            self.labels = mlflow_sweeps.member_labels(sweep.rows)
            self.parent_id = mlflow_sweeps.start_parent(self.mlflow.client, self.mlflow.uri, sweep)
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
                mlflow_sweeps.finish_parent(self.mlflow.client, self.parent_id, status, self.sweep_dir)
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
        history = read_json_object(Path(row["run_dir"]) / "history.json") or {}
        histories[name] = {k: v for k, v in history.items() if k != "epoch" and isinstance(v, list)}
    return write_hparams(
        Path(sweep_dir) / LOG_FOLDER, sessions, hparams_metric_names(compared, members), histories
    )
