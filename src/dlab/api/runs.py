"""Runs: ``dlab run`` and ``dlab show`` as Python functions.

Every CLI flag is a keyword argument here, so anything the CLI does can be
scripted or tested without a shell::

    from dlab import api
    result = api.run("cnn-cifar10", epochs=2, smoke=True)
    print(result.metrics["test"]["accuracy"])

The keywords become one :class:`~dlab.pipeline.request.RunRequest` (the CLI builds the same
request from its flags and passes it as it is). A run goes through :mod:`dlab.pipeline.steps`:
resolve and validate the config -> check the output folder -> choose the device -> load and
check the data -> build the model -> only then create the run directory and train. Bad input
therefore stops before anything is created or trained.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dlab.config.sources import config_catalogue
from dlab.framework import registry
from dlab.pipeline import steps
from dlab.pipeline.request import DEFAULT_OUTPUTS, RunRequest
from dlab.pipeline.steps import RunResult

__all__ = ["DEFAULT_OUTPUTS", "RunRequest", "RunResult", "as_request", "run", "show_config"]


def show_config(config_ref: str | RunRequest, /, **overrides: Any) -> str:
    """The resolved config as YAML, exactly as :func:`run` would use and save it.

    Args:
        config_ref: a config name or YAML file, or a whole :class:`RunRequest`.
        overrides: ``epochs``, ``batch_size``, ``seed``, ``sets``, ``smoke``, ``strategy``,
            ``precision``, ``jit``, ``backend``, ``max_wall_time`` as :func:`run` takes them.
    """
    return steps.resolve(as_request(config_ref, overrides)).to_yaml()


def config_origin(config_ref: str) -> str:
    """Where a config and its experiment come from, in one line (``dlab show`` prints it on stderr):
    ``houses-band: configs/houses-band.yaml from project /home/me/labs; experiment builder from dlab``.
    """
    config = steps.resolve(as_request(config_ref, {}))
    entry = config_catalogue().get(config_ref)
    where = f"{entry.path} from {entry.origin}" if entry is not None else str(config.source_path)
    return (
        f"{config.name}: {where}; experiment {config.experiment} from {registry.origin_of(config.experiment)}"
    )


def run(config_ref: str | RunRequest, /, **options: Any) -> RunResult:
    """Run one config and write its run directory.

    Args:
        config_ref: a packaged config name (``cnn-cifar10``) or a YAML file (e.g. a run's saved
            config.yaml); or a whole :class:`RunRequest` (then no other argument).
        options: the ``dlab run`` flags as keywords (see :mod:`dlab.pipeline.request`):

            - ``epochs``, ``batch_size``, ``seed``: named overrides (None: keep the config's value);
            - ``sets``: ``key.path=value`` overrides, applied last;
            - ``smoke``: synthetic data of the real shapes, few samples, one epoch;
            - ``max_wall_time``: seconds (or "30m", "2h"): the epoch that crosses it is the last;
            - ``strategy``, ``precision``, ``jit``: ``train.strategy`` (default|mirrored),
              ``train.precision`` (float32|mixed_float16|mixed_bfloat16) and ``train.jit_compile``
              (auto|true|false); see :mod:`dlab.run.scaling`;
            - ``backend``: the Keras backend (tensorflow, jax, torch or auto), ``train.backend``;
            - ``out``: the outputs root; the run goes to ``out/<config name>/<time>-<id>/``;
            - ``save_model``: write model.keras (``--no-save`` turns it off);
            - ``resume``: continue this interrupted or failed run directory from its last complete
              epoch (its config must be the same: see :mod:`dlab.run.resume`); the run's lock is
              held from that check to the final write, so another resume of it is refused;
              ``fresh``: start a new one (the default; not together with ``resume``);
            - ``verbose``: Keras's ``verbose`` (0, 1 progress bar, 2 a line per epoch; None: 1 on a
              terminal, 2 otherwise); ``quiet``: print nothing while training (run.log has it);
            - ``tensorboard``: event files in ``RUN/tensorboard``; ``mlflow``: log the finished run
              to MLflow (``mlflow_uri``, else ``MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db``
              beside ``out``);
            - ``device``: ``auto`` (a GPU when there is one), ``cpu`` or ``gpu``;
            - ``debug``: also print TensorFlow's native start-up log on the console.

    Returns:
        The run directory and the metrics written to metrics.json.

    Raises:
        TypeError: an option ``dlab run`` does not have.
        UsageError: bad config, flags, data or output folder (nothing was trained).
        RunInterrupted: SIGINT/SIGTERM stopped training (metrics.json says "interrupted").
        Exception: anything raised while training; metrics.json then says "failed"
            and run.log holds the traceback.
    """
    return steps.run(as_request(config_ref, options))


def as_request(config_ref: str | RunRequest, options: Mapping[str, Any]) -> RunRequest:
    """A request as given, or built from a config and keyword options (never both).

    Raises:
        TypeError: a request together with options, or an option no request has.
    """
    if isinstance(config_ref, RunRequest):
        if options:
            raise TypeError(f"a RunRequest comes with no other option: got {', '.join(options)}")
        return config_ref
    return RunRequest.from_options(config_ref, **options)
