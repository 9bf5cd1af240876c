"""Your own model: a config names a function that returns a ``keras.Model``.

``model: {build: "models.py:build_cnn", units: 64}`` is enough. The function is called
with the config's other ``model`` keys as keyword arguments, and with what the data says
for each of these parameters it declares (as keras-tuner calls ``build_model(hp)``):

- ``input_shape``: one example's shape, without the batch axis;
- ``num_classes``: the number of classes (None for a regression);
- ``task``: ``"classification"`` or ``"regression"``;
- ``data``: the whole :class:`DataSpec`.

What it returns gets the whole pipeline: compile with the config's ``train`` settings, fit
with validation data, early stopping, checkpoints, resume, the task's figures, metrics.json,
sweeps, tune, export and predict. A table's columns are standardized by a ``Normalization``
layer adapted on the training rows and put in front of the model (``model.normalize``), so
the saved model reads raw rows. Everything about the function is checked before the run
directory exists: that it is found, that the config's keys are its parameters, that it
returns a Keras model, and that the model's input and output fit the data.
"""

from __future__ import annotations

import inspect
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ConfigDict, Field

from dlab.config import StrictModel
from dlab.config.project import find_project
from dlab.errors import ConfigError, did_you_mean
from dlab.framework.recipes import ClassifierExperiment
from dlab.framework.registry import register
from dlab.usercode import resolve_object

if TYPE_CHECKING:
    import keras

    from dlab.config import RunConfig
    from dlab.data import ArrayDataset
    from dlab.run.context import RunContext
    from dlab.training import FitResult

DATA_PARAMETERS = ("input_shape", "num_classes", "task", "data")
"""Parameters a builder may declare to receive what the data says."""


class BuilderModelConfig(StrictModel):
    """The ``model:`` section of your own model: the function, then its keyword arguments."""

    model_config = ConfigDict(extra="allow")

    build: str = Field(
        ...,
        description="The function that returns the keras.Model: MODULE:FUNCTION, where MODULE "
        "is a .py file (beside the config, in the project, or in the working folder) or an "
        "importable module. Every other key of model: is passed to it as a keyword argument.",
    )
    normalize: bool = Field(
        True,
        description="Tables: standardize the columns with a Normalization layer adapted on the "
        "training rows, in front of your model (so the saved model reads raw rows).",
    )

    @property
    def arguments(self) -> dict[str, Any]:
        """The keys meant for the function (everything but ``build`` and ``normalize``)."""
        return dict(self.model_extra or {})


@dataclass(frozen=True)
class DataSpec:
    """What the data says, for a model function: shapes, classes and the task."""

    input_shape: tuple[int, ...]
    num_classes: int | None
    task: str
    class_names: tuple[str, ...] = ()
    feature_names: tuple[str, ...] = ()


@register("builder")
class BuilderExperiment(ClassifierExperiment):
    """A model function of your own, trained on any dataset dlab reads (your own files too)."""

    family = "your own"
    ModelConfig = BuilderModelConfig

    def build_model(self, config: RunConfig, data: ArrayDataset) -> keras.Model:
        spec = data_spec(data)
        function = find_builder(config)
        model = call_builder(function, config.model, spec)
        check_model_fits(model, function, spec, data)
        if config.model.normalize and is_table(data):
            model = with_normalization(model, data, config.name)
        return model

    def figures(self, ctx: RunContext, model: keras.Model, data: ArrayDataset, result: FitResult) -> None:
        if data_spec(data).task == "classification":
            super().figures(ctx, model, data, result)
            return
        from dlab.plots.regression import predicted_vs_true

        true, predicted = self.test_predictions(ctx, model, data)
        ctx.run_dir.save_figure(
            predicted_vs_true(true, predicted, title=f"{ctx.config.name}: test predictions"),
            "predicted_vs_true",
        )

    def inference_spec(self, config: RunConfig, data: Any) -> dict[str, Any] | None:
        """Tables are read by column name (one-hot columns from their text); images are resized."""
        from dlab.framework.inference import image_spec, table_spec

        if is_table(data):
            spec = table_spec(config, data, list(data.extra["feature_names"]))
            spec["table"]["categories"] = dict(data.extra.get("categories") or {})
            return spec
        shape = getattr(data, "sample_shape", None)
        if shape is not None and len(shape) == 3:
            return image_spec(config, shape, data.class_names, data_spec(data).task)
        return None


def is_table(data: Any) -> bool:
    """Rows of numbered columns read from a table file (the csv dataset)."""
    return "feature_names" in getattr(data, "extra", {})


def data_spec(data: Any) -> DataSpec:
    """The :class:`DataSpec` of a loaded dataset."""
    classes = tuple(data.class_names or ())
    task = getattr(data, "extra", {}).get("task") or ("classification" if classes else "regression")
    shape = data.sample_shape
    return DataSpec(
        input_shape=tuple(int(size) for size in shape) if shape is not None else (),
        num_classes=len(classes) if task == "classification" else None,
        task=task,
        class_names=classes,
        feature_names=tuple(getattr(data, "extra", {}).get("feature_names") or ()),
    )


def find_builder(config: RunConfig) -> Any:
    """The function ``model.build`` names: beside the config, in the project, or by module name."""
    folders = [Path(folder) for folder in (config_folder(config),) if folder]
    project = find_project()
    if project is not None:
        folders.append(project.root)
    function = resolve_object(config.model.build, what="model.build", base_dirs=folders)
    if not callable(function):
        raise ConfigError(
            f"model.build: {config.model.build} is a {type(function).__name__}, not a function."
        )
    return function


def config_folder(config: RunConfig) -> str | None:
    """The folder of the config file this config was read from (None for one built in memory)."""
    return str(Path(config.source_path).parent) if config.source_path else None


def call_builder(function: Any, settings: BuilderModelConfig, spec: DataSpec) -> Any:
    """Call the function with the config's keys and the data's facts it asks for.

    Raises:
        ConfigError: a key that is not one of its parameters, a parameter it needs that no
            key gives, or an exception inside it (with the user's traceback).
    """
    name = f"{function.__module__}.{function.__qualname__}"
    parameters = inspect.signature(function).parameters
    takes_any = any(item.kind is inspect.Parameter.VAR_KEYWORD for item in parameters.values())
    arguments = settings.arguments
    unknown = [key for key in arguments if key not in parameters and not takes_any]
    if unknown:
        accepted = [key for key in parameters if key not in DATA_PARAMETERS]
        raise ConfigError(
            f"model.{unknown[0]} is not a parameter of {name}{did_you_mean(unknown[0], accepted)} "
            f"Its parameters: {', '.join(accepted) or 'none besides the data'}."
        )
    facts = {
        "input_shape": spec.input_shape,
        "num_classes": spec.num_classes,
        "task": spec.task,
        "data": spec,
    }
    given = {**{key: value for key, value in facts.items() if key in parameters}, **arguments}
    missing = [
        key
        for key, item in parameters.items()
        if item.default is inspect.Parameter.empty
        and item.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        and key not in given
    ]
    if missing:
        raise ConfigError(
            f"{name} needs {', '.join(missing)}: add them under model: in the config (the data gives "
            f"only {', '.join(DATA_PARAMETERS)})."
        )
    try:
        return function(**given)
    except Exception as error:  # the user's code: show where it failed in their file
        frames = traceback.extract_tb(error.__traceback__)[1:]  # from the function's own frame on
        trace = "".join(traceback.format_list(frames) + traceback.format_exception_only(type(error), error))
        raise ConfigError(f"model.build: {name} raised:\n{trace.rstrip()}") from None


def check_model_fits(model: Any, function: Any, spec: DataSpec, data: Any) -> None:
    """A Keras model whose input takes one example and whose output has one value per class.

    Raises:
        ConfigError: something else was returned, or the shapes do not fit the data.
    """
    import keras  # lazy: the experiment module is imported by dlab list

    name = f"{function.__module__}.{function.__qualname__}"
    if not isinstance(model, keras.Model):
        raise ConfigError(
            f"model.build: {name} returned {type(model).__name__}, not a keras.Model. "
            "Return keras.Model(inputs, outputs) or a keras.Sequential."
        )
    expected_output = spec.num_classes if spec.task == "classification" else 1
    try:
        sample = data.x_train[:2]
        output = model(sample, training=False)
    except Exception as error:  # a shape mismatch shows up here, before the run exists
        raise ConfigError(
            f"model.build: the model of {name} cannot read this data's examples of shape "
            f"{spec.input_shape}: {error}"
        ) from None
    width = int(output.shape[-1]) if len(output.shape) > 1 else 1
    binary = spec.task == "classification" and spec.num_classes == 2 and width == 1
    if width != expected_output and not binary:
        what = f"{spec.num_classes} classes" if spec.task == "classification" else "a regression"
        raise ConfigError(
            f"model.build: the model of {name} outputs {width} value(s) per example, but the data is "
            f"{what}: its last layer needs {expected_output} unit(s)."
        )


def with_normalization(model: keras.Model, data: Any, name: str) -> keras.Model:
    """The model behind a Normalization layer adapted on the training rows only."""
    import keras  # lazy: see check_model_fits

    normalizer = keras.layers.Normalization(name="normalize")
    normalizer.adapt(data.x_train)
    inputs = keras.Input(shape=data.x_train.shape[1:], name="features")
    return keras.Model(inputs, model(normalizer(inputs)), name=name.replace("-", "_"))
