"""Hyperparameter search with keras-tuner over another experiment's configs.

The ``keras_tuner`` experiment runs the search described by its ``model:``
section (:class:`dlab.tune.space.TuneConfig`): the ``target`` experiment builds each
trial's model from its own config, so ``tune-mnist-mlp`` tunes ``dense_mnist``
and ``tune-mnist-cnn`` tunes ``convnet`` without a line of model code here.
Everything that can be checked is checked before the run directory exists: the
search space (types, ranges), that every key exists in the target config and
that every end of every range builds a model, the objective, and under
``--resume`` that the saved search has the same space and settings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from dlab.config import config_names, find_config, load_yaml_chain
from dlab.errors import ConfigError
from dlab.framework import registry
from dlab.framework.base import Experiment
from dlab.framework.registry import register
from dlab.tune.space import TuneConfig, default_values, extreme_values, trial_config

if TYPE_CHECKING:
    from pathlib import Path

    from dlab.config import RunConfig
    from dlab.data import ArrayDataset
    from dlab.run.context import RunContext


@register("keras_tuner")
class KerasTunerSearch(Experiment):
    """A keras-tuner search whose trials are configs of the ``target`` experiment."""

    family = "hyperparameter search"
    # keras-tuner's trials run under TensorFlow's summary writers and its distributed oracle
    # (gRPC) is only tested with TensorFlow here
    requires_tensorflow = "keras-tuner searches (trial callbacks, distributed oracle) run on TensorFlow"
    ModelConfig = TuneConfig
    # Two one-epoch trials on a few hundred synthetic images: the whole pipeline in seconds.
    smoke_overrides: ClassVar[dict[str, Any]] = {
        "data.train_samples": 256,
        "data.test_samples": 64,
        "model.max_trials": 2,
        "model.executions_per_trial": 1,
    }

    def target(self, config: RunConfig) -> Experiment:
        """The experiment whose model is tuned (an instance)."""
        if config.model.target not in registry.names() and config.model.target in config_names():
            raise self._config_as_target(config.model.target)
        experiment = registry.get(config.model.target)
        if not experiment.uses_keras or experiment is type(self):
            raise self._bad_target(config)
        return experiment()

    @staticmethod
    def _config_as_target(name: str) -> Exception:
        """model.target names a config, not an experiment: say what to write instead."""
        experiment = load_yaml_chain(find_config(name), {}).get("experiment")
        return ConfigError(
            f"model.target: '{name}' is a config, not an experiment (its experiment is "
            f"{experiment!r}). Tune the config itself from the command line: "
            f"`dlab tune {name} --space KEY=SPEC ...` (e.g. --space "
            "train.optimizer.learning_rate=log:1e-4..1e-2), or write model.target: "
            f"{experiment} with base_model: set to that config's model: section."
        )

    @staticmethod
    def _bad_target(config: RunConfig) -> Exception:
        return ConfigError(
            f"model.target={config.model.target!r} cannot be tuned: keras-tuner "
            "trains Keras models, so the target must be a Keras experiment such "
            "as dense_mnist or convnet."
        )

    def load_data(self, config: RunConfig) -> ArrayDataset:
        base = trial_config(config, default_values(config.model))
        return self.target(config).load_data(base)

    def prepare(self, config: RunConfig, data: ArrayDataset) -> None:
        from dlab.tune.search import check_objective, check_tensorboard  # lazy: keeps dlab list light

        target = self.target(config)
        check_objective(config)
        check_tensorboard()
        for values in extreme_values(config.model):
            chosen = trial_config(config, values)
            target.prepare(chosen, data)  # builds the model: a value it cannot use fails here
        return None

    def resume_hint(self, config: RunConfig, config_ref: str, run_dir: Path, overridden: bool) -> str:
        """A search continues with ``dlab tune --resume`` (into a new run directory)."""
        name = "" if overridden else f" {config_ref}"
        return (
            f"continue the search with `dlab tune{name} --resume {run_dir}` (the "
            "interrupted trial runs again)"
        )

    def run(self, ctx: RunContext, data: ArrayDataset, model: Any) -> None:
        from dlab.tune.search import run_search  # lazy: keeps dlab list light

        run_search(ctx, self.target(ctx.config), data)
