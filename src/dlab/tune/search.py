"""Hyperparameter search with keras-tuner, driven by a YAML search space.

A tuner config names a *target* experiment (``dense_mnist``, ``convnet`` ...)
and the model section it starts from; its ``search_space`` maps dotted config
keys of that target to ranges (:mod:`dlab.tune.space`). Every trial is
therefore an ordinary dlab config: the target's own
``build_model`` builds it and :func:`dlab.training.compile_model` compiles it,
and the best trial is written as ``best-config.yaml``, which ``dlab run FILE``
accepts as it is.

keras-tuner is used for what it is good at (sampling, the oracles, trial
bookkeeping, checkpoints) and watched where it is quiet: a failed trial is
printed with its error and listed in the trials table, and ``--resume`` refuses
a search directory whose space or settings changed (keras-tuner would reload the
old trials under the new space without a word).

Keras and keras-tuner are imported inside the functions that search.
"""

from __future__ import annotations

import dataclasses
import gc
import importlib.util
import json
import shutil
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dlab.errors import ConfigError, UsageError, did_you_mean
from dlab.fileio import atomic_write_text
from dlab.run.history import record_history
from dlab.tracking.tensorboard import tuner_callbacks
from dlab.tune import handover
from dlab.tune.distributed import Role, adopt_tuner_state, current_role
from dlab.tune.interrupt import guard_callbacks, lost_workers, record_interrupted_search
from dlab.tune.layout import BEST_CONFIG_FILE, PROJECT_NAME, TUNER_DIR
from dlab.tune.liveness import DEFAULT_WORKER_TIMEOUT, WorkerWatch
from dlab.tune.resume import continued_search, fingerprint, fingerprint_hash, write_fingerprint
from dlab.tune.serving import serve_oracle
from dlab.tune.space import (
    ChoiceParameter,
    FloatParameter,
    IntParameter,
    TuneConfig,
    objective_direction,
    trial_config,
)
from dlab.tune.trials import report_trial, save_trial_figures, trial_history, trial_rows, write_trials

if TYPE_CHECKING:
    from dlab.config import RunConfig
    from dlab.data import ArrayDataset
    from dlab.framework.base import Experiment
    from dlab.run.context import RunContext


# --------------------------------------------------------------------------- the search


def hyperparameter(hp: Any, key: str, parameter: Any) -> Any:
    """Declare one search-space entry on a keras-tuner ``HyperParameters`` and return its value."""
    if isinstance(parameter, IntParameter):
        return hp.Int(
            key,
            parameter.min,
            parameter.max,
            step=parameter.step,
            sampling=parameter.sampling,
            default=parameter.default,
        )
    if isinstance(parameter, FloatParameter):
        return hp.Float(
            key,
            parameter.min,
            parameter.max,
            step=parameter.step,
            sampling=parameter.sampling,
            default=parameter.default,
        )
    if isinstance(parameter, ChoiceParameter):
        return hp.Choice(key, parameter.values, default=parameter.default)
    return hp.Boolean(key, default=parameter.default)


def check_objective(config: RunConfig) -> None:
    """The objective must be a metric the trials' history will hold.

    Raises:
        ConfigError: naming the allowed objectives.
    """
    from dlab.training import history_name  # lazy: imports keras

    names = ["loss", *(history_name(metric) for metric in config.train.metrics)]
    allowed = [f"val_{name}" for name in names] + names
    objective = config.model.objective
    if objective not in allowed:
        raise ConfigError(
            f"Invalid value for 'model.objective': {objective!r}. The trials' "
            f"history holds {', '.join(allowed)}.{did_you_mean(objective, allowed)}"
        )


def check_tensorboard() -> None:
    """keras-tuner 1.4 imports tensorboard in every trial on the TensorFlow backend; without
    it every trial would fail. Say so before the search.

    Raises:
        UsageError: tensorboard is not installed.
    """
    if importlib.util.find_spec("tensorboard") is None:
        raise UsageError(
            "keras-tuner imports tensorboard in every trial, and it is not "
            "installed (TensorFlow 2.21 no longer brings it): run `pip install "
            "tensorboard` (dlab declares it; reinstall with `pip install -e .`)."
        )


def make_hypermodel(
    config: RunConfig,
    target: Experiment,
    data: ArrayDataset,
    ctx: RunContext | None = None,
    callbacks: Sequence[Any] = (),
) -> Any:
    """A keras-tuner HyperModel whose trials are target configs (see :func:`trial_config`);
    with the run's ``ctx``, each trial's fit stops at a batch boundary on a stop signal.
    ``callbacks`` go to every trial's fit too (a worker's: stop once the chief is gone)."""
    import keras_tuner

    from dlab.training import compile_model, fit_inputs, steps_per_epoch  # lazy: imports keras

    settings: TuneConfig = config.model

    class TargetHyperModel(keras_tuner.HyperModel):
        """Builds and fits one trial with the target experiment's own model code."""

        def trial(self, hp: Any) -> RunConfig:
            values = {
                key: hyperparameter(hp, key, parameter) for key, parameter in settings.search_space.items()
            }
            return trial_config(config, values)

        def build(self, hp: Any) -> Any:
            chosen = self.trial(hp)
            model = target.build_model(chosen, data)
            compile_model(
                model, chosen.train, steps_per_epoch(data, chosen.train), num_classes=data.num_classes
            )
            return model

        def fit(self, hp: Any, model: Any, *args: Any, **kwargs: Any) -> Any:
            train = self.trial(hp).train
            kwargs.pop("batch_size", None)
            kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), *guard_callbacks(ctx), *callbacks]
            fit_arguments, _ = fit_inputs(data, train, model=model, seed=config.seed)
            return model.fit(**fit_arguments, **kwargs)

    return TargetHyperModel(name=config.name.replace("-", "_"))


@contextmanager
def startup_objects_frozen() -> Iterator[None]:
    """For the block (the trials), keep every object alive at its start (TensorFlow's,
    Keras's, the data's) out of the cyclic garbage collector's reach.

    keras-tuner runs ``gc.collect()`` twice per trial (itself, and in
    ``keras.backend.clear_session()``), and with TensorFlow imported each collection walks
    about half a million long-lived objects: 0.3 s each on a 2-core machine, about 0.6 s of
    every trial. Frozen objects are still freed when their last reference goes; they are
    handed back to the collector afterwards, so a process that goes on (a test session,
    a notebook) keeps collecting the cycles among them.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def make_tuner(
    config: RunConfig,
    hypermodel: Any,
    directory: Path,
    overwrite: bool,
    on_trial_end: Any,
    stop_check: Callable[[], None] | None = None,
) -> Any:
    """The keras-tuner tuner for ``model.algorithm``, reporting every finished trial; on a
    chief, it serves the search (:func:`serve_as_chief`, ``stop_check`` raises to stop)."""
    import keras
    import keras_tuner

    settings: TuneConfig = config.model
    classes = {
        "random_search": keras_tuner.RandomSearch,
        "hyperband": keras_tuner.Hyperband,
        "bayesian": keras_tuner.BayesianOptimization,
    }

    class ReportingTuner(classes[settings.algorithm]):
        """Seeds each trial from its id, and reports each one when it ends."""

        watch: WorkerWatch | None = None
        """On a chief: its workers, and those it lost."""

        def search(self, *args: Any, **kwargs: Any) -> Any:
            from keras_tuner.src.distribute import utils as dist_utils

            if not dist_utils.is_chief_oracle():
                return super().search(*args, **kwargs)
            if "verbose" in kwargs:
                self.oracle.verbose = kwargs["verbose"]
            serve_as_chief(self, stop_check)
            return None

        def chief_trial_ended(self, trial_id: str) -> None:
            """A worker ended a trial: report it here as a local search does (trials.csv)."""
            trial = self.oracle.get_trial(trial_id)
            on_trial_end(self, trial)
            score = "-" if trial.score is None else f"{float(trial.score):.4f}"
            print(f"dlab: chief: trial {int(trial_id) + 1} {trial.status} (score {score})", flush=True)

        def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> Any:
            # every trial starts from the config's seed, as `dlab run best-config.yaml` does: trials
            # differ by their hyperparameters only, and the best one re-runs to its own numbers
            keras.utils.set_random_seed(config.seed)
            return super().run_trial(trial, *args, **kwargs)

        def on_trial_end(self, trial: Any) -> None:
            super().on_trial_end(trial)
            on_trial_end(self, self.oracle.get_trial(trial.trial_id))

    common = {
        "objective": keras_tuner.Objective(settings.objective, objective_direction(settings.objective)),
        "executions_per_trial": settings.executions_per_trial,
        "seed": config.seed,
        "directory": str(directory),
        "project_name": PROJECT_NAME,
        "overwrite": overwrite,
        "max_consecutive_failed_trials": settings.max_consecutive_failed_trials,
    }
    if settings.algorithm == "hyperband":
        return ReportingTuner(
            hypermodel,
            max_epochs=config.train.epochs,
            factor=settings.hyperband_factor,
            hyperband_iterations=settings.hyperband_iterations,
            **common,
        )
    extra = {}
    if settings.algorithm == "bayesian" and settings.num_initial_points is not None:
        extra["num_initial_points"] = settings.num_initial_points
    return ReportingTuner(hypermodel, max_trials=settings.max_trials, **extra, **common)


def serve_as_chief(tuner: Any, stop_check: Callable[[], None] | None) -> None:
    """keras-tuner's chief branch of ``search()``, with dlab's serving loop (:func:`serve_oracle`:
    faster, stopped by ``stop_check``) and a watch on the workers (a lost worker's trial goes to
    another one: :class:`~dlab.tune.liveness.WorkerWatch`, kept as ``tuner.watch``)."""
    tuner.save()
    role = current_role()
    timeout = DEFAULT_WORKER_TIMEOUT if role is None else role.worker_timeout
    tuner.watch = WorkerWatch(tuner.oracle, timeout, on_failed=tuner.chief_trial_ended)
    serve_oracle(tuner.oracle, on_trial_end=tuner.chief_trial_ended, watch=tuner.watch, stop_check=stop_check)


def run_search(ctx: RunContext, target: Experiment, data: ArrayDataset) -> None:
    """Search, write the trials table and best-config.yaml, then evaluate the best model.

    A resumed search copies the earlier run's tuner folder first and reloads it
    (keras-tuner's ``overwrite=False``); :func:`check_same_search` has already made
    sure that it belongs to this search. The target experiment draws its usual
    figures for the best model.

    Raises:
        RuntimeError: no trial completed (each error is in the trials table and run.log).
    """
    config = ctx.config
    tuner_dir = ctx.run_dir.path / TUNER_DIR
    resumed = continued_search()  # dlab tune --resume (dlab.tune.resume.continuing)
    if resumed is not None:
        shutil.copytree(resumed / TUNER_DIR, tuner_dir)
        adopt_tuner_state(tuner_dir / PROJECT_NAME, (current_role() or Role("tuner0", "", 0)).tuner_id)
        print(f"dlab: resuming the search of {resumed} (its trials are copied into this run)")
    else:
        tuner_dir.mkdir()
    write_fingerprint(config, tuner_dir)

    hypermodel = make_hypermodel(config, target, data, ctx)
    tuner = make_tuner(
        config,
        hypermodel,
        tuner_dir,
        overwrite=resumed is None,
        on_trial_end=lambda tuner, trial: report_trial(ctx, tuner, trial),
        stop_check=lambda: ctx.guard.check_interrupt("the chief (serving the search)"),
    )
    role = current_role()
    if role is not None and role.shared_dir is not None:  # a stale folder of this search's name
        handover.clear(handover.search_folder(role.shared_dir, config, role.port))
    if role is not None:
        print(
            f"dlab: chief: serving the search on {role.host}:{role.port}; start workers with "
            f"`dlab tune {config.name} --worker ID --chief-address HOST:{role.port}` (same flags)",
            flush=True,
        )
    summary = search(ctx, tuner, resumed)
    best_trial, best_config = write_best_config(ctx, tuner, summary)
    best_ctx = dataclasses.replace(ctx, config=best_config)  # same summary: one metrics.json
    retrain = config.model.retrain_epochs is not None or config.model.retrain_batch_size is not None
    if role is not None and not retrain:  # the checkpoints are with the workers
        retrain = not checkpoint_handed_over(ctx, tuner, best_trial, role)
    result = evaluate_best(best_ctx, target, tuner, best_trial, data, retrained=retrain)
    ctx.record(timing={"search_seconds": summary["search_seconds"], **(ctx.summary.get("timing") or {})})
    target.figures(best_ctx, result.model, data, result)


def checkpoint_handed_over(ctx: RunContext, tuner: Any, best_trial: Any, role: Role) -> bool:
    """On a chief: copy the best trial's checkpoint from the shared folder into this run's
    tuner folder, record where it came from, and say whether that worked (if not, the
    chief retrains the best config and says why)."""
    number = int(best_trial.trial_id) + 1
    if role.shared_dir is None:
        reason = "without --shared-dir the checkpoints stay with the workers"
    else:
        folder = handover.search_folder(role.shared_dir, ctx.config, role.port)
        worker = handover.take_best(folder, best_trial, tuner.oracle.get_trial, tuner.get_trial_dir)
        if worker is not None:
            handover.clear(folder)
            print(f"dlab: chief: took trial {number}'s checkpoint from worker {worker} ({folder})")
            ctx.record(best_model={"source": "checkpoint", "trial": number, "worker": worker})
            return True
        reason = f"no checkpoint of trial {number} in {folder}"
        handover.clear(folder)
    print(f"dlab: chief: {reason}: retraining the best config")
    ctx.record(best_model={"source": "retrained", "trial": number, "reason": reason})
    return False


def search(ctx: RunContext, tuner: Any, resumed: Path | None) -> dict[str, Any]:
    """Run the search; write trials.csv/json and plots/trials.png; return metrics.json's
    ``tuner`` block (``resumed``: the run directory it continues, if any).

    Raises:
        RuntimeError: no trial completed.
    """
    config = ctx.config
    settings: TuneConfig = config.model
    started = time.perf_counter()
    search_error: BaseException | None = None
    try:
        with warnings.catch_warnings(), startup_objects_frozen():
            # checkpoints hold weights only (Hyperband reloads them)
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            tuner.search(epochs=config.train.epochs, verbose=ctx.verbose, callbacks=tuner_callbacks(ctx))
    except RuntimeError as error:  # keras-tuner stops after too many failed trials in a row
        search_error = error
        ctx.run_dir.append_log(traceback.format_exc())
    except KeyboardInterrupt as error:  # a stop signal ended the running trial
        record_interrupted_search(ctx, tuner, error)
        raise
    search_seconds = time.perf_counter() - started

    rows = trial_rows(tuner, settings)
    write_trials(ctx.run_dir.path, rows)
    direction = objective_direction(settings.objective)
    save_trial_figures(ctx, rows, direction)
    completed = [row for row in rows if row["status"] == "COMPLETED"]
    failed = [row for row in rows if row["status"] in ("FAILED", "INVALID")]
    summary = {
        "algorithm": settings.algorithm,
        "objective": settings.objective,
        "direction": direction,
        "max_trials": settings.max_trials,
        "executions_per_trial": settings.executions_per_trial,
        "trials": {"total": len(rows), "completed": len(completed), "failed": len(failed)},
        "search_seconds": round(search_seconds, 3),
        "tuner_dir": str(tuner.directory),
        "resumed_from": str(resumed) if resumed else None,
        "fingerprint": fingerprint_hash(fingerprint(config)),
    }
    summary.update(lost_workers(tuner))  # a chief: the workers it lost, and what became of their trials
    ctx.record(tuner=summary)
    stopped = f"keras-tuner: {str(search_error).splitlines()[0]}" if search_error else ""
    if not completed:
        first = failed[0]["error"] if failed else "no trial ran"
        raise RuntimeError(
            f"no trial completed ({len(failed)} failed); first error: {first}. "
            "trials.csv lists every trial's error and run.log has the "
            f"tracebacks. {stopped}".rstrip()
        )
    if search_error is not None:
        print(f"dlab: the search stopped early: {stopped}")
    return summary


def write_best_config(ctx: RunContext, tuner: Any, summary: dict[str, Any]) -> tuple[Any, RunConfig]:
    """Write best-config.yaml (the best trial as a target config, retrain settings applied)
    and record the best trial in metrics.json; return the trial and its config."""
    config = ctx.config
    settings: TuneConfig = config.model
    best_trial = tuner.oracle.get_best_trials(1)[0]
    number, score = int(best_trial.trial_id) + 1, float(best_trial.score)
    values = {key: best_trial.hyperparameters.values[key] for key in settings.search_space}
    retrain = {
        key: value
        for key, value in (
            ("train.epochs", settings.retrain_epochs),
            ("train.batch_size", settings.retrain_batch_size),
        )
        if value is not None
    }
    best_config = trial_config(config, values, **retrain)
    path = ctx.run_dir.path / BEST_CONFIG_FILE
    best_config = best_config.model_copy(
        update={
            "description": (
                f"The best trial (#{number}, {settings.objective} {score:.4f}) of the {config.name} "
                f"search in {ctx.run_dir.path}: {json.dumps(values)}"
                + (f"; retrained with {json.dumps(retrain)}" if retrain else "")
            )
        }
    )
    atomic_write_text(path, best_config.to_yaml())
    summary["best"] = {"trial": number, "score": score, "hyperparameters": values, "config": str(path)}
    ctx.record(tuner=summary, best_trial=number, best_score=score)
    return best_trial, best_config  # `dlab tune` prints it once, at the end


def evaluate_best(
    best_ctx: RunContext, target: Experiment, tuner: Any, best_trial: Any, data: ArrayDataset, retrained: bool
) -> Any:
    """The best model on the test split, reported like any run (history, test, params, model).

    ``retrained``: train the best config from scratch through
    :func:`dlab.training.fit_and_evaluate` (what ``dlab run best-config.yaml`` does);
    otherwise evaluate the best trial's checkpoint, whose recorded epochs become the
    run's history. Returns the :class:`dlab.training.FitResult`.
    """
    import keras

    from dlab.training import (  # lazy: imports keras
        FitResult,
        count_params,
        fit_and_evaluate,
        model_summary,
        targets,
    )

    best_config = best_ctx.config
    train = best_config.train
    if retrained:
        print(f"dlab: retraining the best hyperparameters: {train.epochs} epochs, batch {train.batch_size}")
        keras.utils.set_random_seed(best_config.seed)
        result = fit_and_evaluate(target.build_model(best_config, data), data, best_ctx)
        best_ctx.record(retrain={"epochs": train.epochs, "batch_size": train.batch_size})
        return result
    with warnings.catch_warnings():  # the trial checkpoints hold weights, not optimizer state
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        model = tuner.get_best_models(1)[0]
    test = model.evaluate(
        data.x_test,
        targets(data.y_test, train, data.num_classes),
        batch_size=train.batch_size or len(data.x_test),
        return_dict=True,
        verbose=0,
    )
    test = {key: float(value) for key, value in test.items()}
    history = trial_history(best_trial)
    best_ctx.run_dir.write_summary(model_summary(model))
    best_ctx.record(params=count_params(model), test=test)
    if best_ctx.save_model:
        best_ctx.run_dir.save_model(model)
    record_history(best_ctx, history)
    return FitResult(model=model, history=history, test_metrics=test)
