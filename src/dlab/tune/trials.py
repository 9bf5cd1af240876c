"""The trials of a search: the trials table (trials.csv), its figures, per-trial history, the live report."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dlab.fileio import atomic_write_json, atomic_write_text
from dlab.plots import hyperparameters_figure, trials_figure
from dlab.tune.space import FloatParameter, IntParameter, TuneConfig

if TYPE_CHECKING:
    from dlab.run.context import RunContext


def trial_rows(tuner: Any, settings: TuneConfig) -> list[dict[str, Any]]:
    """One row per trial, in the order they were created: id, status, score, values, error."""
    rows = []
    for trial_id in sorted(tuner.oracle.trials, key=int):
        trial = tuner.oracle.trials[trial_id]
        values = trial.hyperparameters.values
        error = (trial.message or "").strip().splitlines()
        rows.append(
            {
                "trial": int(trial_id) + 1,  # keras-tuner's "Trial #N"
                "trial_id": trial_id,  # its folder: tuner/search/trial_<id>
                "status": str(trial.status),
                "score": None if trial.score is None else float(trial.score),
                "best_epoch": None if trial.best_step is None else int(trial.best_step) + 1,
                **{key: values.get(key) for key in settings.search_space},
                "error": error[-1] if error and str(trial.status) != "COMPLETED" else None,
            }
        )
    return rows


def write_trials(run_dir: Path, rows: list[dict[str, Any]]) -> None:
    """Write trials.csv and trials.json atomically (a reader never sees half a table)."""
    atomic_write_json(run_dir / "trials.json", rows)
    if not rows:
        return
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(run_dir / "trials.csv", buffer.getvalue())


def trial_history(trial: Any) -> dict[str, list[float]]:
    """A trial's per-epoch metrics as a history (the epochs keras-tuner recorded)."""
    history = {}
    for name, tracker in trial.metrics.metrics.items():
        observations = sorted(tracker.get_history(), key=lambda observation: observation.step)
        history[name] = [float(observation.mean()) for observation in observations]
    length = min((len(values) for values in history.values()), default=0)
    return {name: values[:length] for name, values in history.items()}


def report_trial(ctx: RunContext, tuner: Any, trial: Any) -> None:
    """After each trial: rewrite the trials table; print a failed trial's error and log its
    traceback (keras-tuner 1.4 would only keep it in its own trial.json)."""
    write_trials(ctx.run_dir.path, trial_rows(tuner, ctx.config.model))
    status = str(trial.status)
    if status == "COMPLETED":
        return
    message = (trial.message or "").strip()
    last = message.splitlines()[-1] if message else "no error message"
    number = int(trial.trial_id) + 1
    print(f"dlab: trial {number} {status}: {last} (the traceback is in run.log and the error in trials.csv)")
    ctx.run_dir.append_log(f"trial {number} traceback:\n{message}\n")


def save_trial_figures(ctx: RunContext, rows: list[dict[str, Any]], direction: str) -> None:
    """plots/trials.png (the score per trial) and plots/hyperparameters.png (the score against
    each hyperparameter, one panel each)."""
    config = ctx.config
    settings: TuneConfig = config.model
    objective = settings.objective
    ctx.run_dir.save_figure(
        trials_figure(rows, objective, direction, f"{config.name}: {objective} per trial"), "trials"
    )
    scales = {key: axis_scale(parameter) for key, parameter in settings.search_space.items()}
    title = f"{config.name}: {objective} against each hyperparameter"
    ctx.run_dir.save_figure(
        hyperparameters_figure(rows, scales, objective, direction, title), "hyperparameters"
    )


def axis_scale(parameter: Any) -> str:
    """How a search-space entry's values are drawn (see :data:`dlab.plots.trials.SCALES`)."""
    if isinstance(parameter, IntParameter | FloatParameter):
        if parameter.sampling != "linear":
            return "log"
        return "int" if isinstance(parameter, IntParameter) else "float"
    return "category"
