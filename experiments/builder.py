"""Your own model: a config names a function that returns a ``keras.Model``.

``model: {build: "models.py:build_cnn", units: 64}`` is enough. The function is called
with the config's other ``model`` keys as keyword arguments, and with what the data says
for each of these parameters it declares (as keras-tuner calls ``build_model(hp)``):

- ``input_shape``: one example's shape, without the batch axis;
- ``num_classes``: the number of classes (None for a regression);
- ``task``: ``"classification"`` or ``"regression"``;
- ``vocabulary_size``: text: the number of word ids (an Embedding's ``input_dim``), else None;
- ``data``: the whole :class:`DataSpec`.

Your own data comes as a table (``dataset: csv``), arrays (``npz``), a folder of class folders
of images (``image_folder``, streamed with tf.data) or of text files (``text_folder``: padded
word ids). Images reach the model as uint8 pixels 0-255 (rescale inside it, e.g.
``keras.layers.Rescaling(1 / 255)``), so the saved model reads raw images too.

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

DATA_PARAMETERS = ("input_shape", "num_classes", "task", "vocabulary_size", "data")
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
    vocabulary_size: int | None = None


@register("builder")
class BuilderExperiment(ClassifierExperiment):
    """A model function of your own, trained on any dataset dlab reads (your own files too)."""

    family = "your own"
    ModelConfig = BuilderModelConfig

    def check(self, config: RunConfig, data: Any) -> None:
        from dlab.training import is_stream

        if config.train.kfold and is_stream(data):
            raise ConfigError(
                f"train.kfold needs the examples as arrays, and data.dataset={data.name} is streamed "
                "from its files. Remove train.kfold (or validate on a fraction: data.validation=0.2)."
            )
        super().check(config, data)

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

    def test_predictions(self, ctx: RunContext, model: keras.Model, data: Any) -> tuple:
        """(true labels, model scores) of the test split; a stream is read once, batch by batch,
        and its first images are kept for the prediction grid."""
        import numpy as np

        from dlab.training import is_stream

        if not is_stream(data):
            return super().test_predictions(ctx, model, data)
        labels, scores, shown = [], [], []
        kept = 0
        for x, y in data.batches("test", ctx.config.train.batch_size or 32):
            x = np.asarray(x)  # a tf.data tensor: JAX's predict_on_batch takes arrays
            scores.append(np.asarray(model.predict_on_batch(x)))
            labels.append(np.asarray(y))
            if kept < GRID_SIZE:
                shown.append(x[: GRID_SIZE - kept])
                kept += len(shown[-1])
        ctx.state["shown_images"] = np.concatenate(shown)
        return np.concatenate(labels), np.concatenate(scores)

    def show_predictions(self, ctx, data, true, predicted, scores, names) -> None:
        """Images: a grid of the first test images with their predicted (and wrong: true) labels."""
        if not is_image(data):
            return
        from dlab.plots import prediction_grid

        shown = min(GRID_SIZE, len(true))
        images = ctx.state["shown_images"] if "shown_images" in ctx.state else data.x_test
        ctx.run_dir.save_figure(
            prediction_grid(
                images[:shown],
                true[:shown],
                predicted[:shown],
                names,
                title=f"{ctx.config.name}: test predictions",
            ),
            "predictions",
        )

    def inference_spec(self, config: RunConfig, data: Any) -> dict[str, Any] | None:
        """Tables are read by column name (one-hot columns from their text); images are resized;
        documents become word ids by the run's vocabulary, padded to its length."""
        from dlab.framework.inference import image_spec, table_spec, text_spec

        if is_table(data):
            spec = table_spec(config, data, list(data.extra["feature_names"]))
            spec["table"]["categories"] = dict(data.extra.get("categories") or {})
            return spec
        if is_text(data):
            return text_spec(
                config, data, "sequence", int(data.extra["maxlen"]), data.class_names, scheme="vectorizer"
            )
        if is_image(data):
            return image_spec(config, data.sample_shape, data.class_names, data_spec(data).task)
        return None


GRID_SIZE = 20
"""Test images shown with their predictions (``plots/predictions.png``)."""


def is_table(data: Any) -> bool:
    """Rows of numbered columns: a table file (csv), or feature rows of an .npz (npz)."""
    return "feature_names" in getattr(data, "extra", {})


def is_text(data: Any) -> bool:
    """Documents as padded word ids, with the vocabulary that numbered them (text_folder)."""
    return getattr(data, "vocabulary", None) is not None and "maxlen" in getattr(data, "extra", {})


def is_image(data: Any) -> bool:
    """Examples of shape (height, width, channels) holding uint8 pixels, which raw image files
    give too (a stream of a class-folder tree always does; float arrays may hold anything)."""
    from dlab.training import is_stream

    shape = getattr(data, "sample_shape", None)
    if shape is None or len(shape) != 3 or shape[-1] not in (1, 3, 4):
        return False
    return is_stream(data) or str(data.x_train.dtype) == "uint8"


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
        vocabulary_size=int(data.extra["num_words"]) if is_text(data) else None,
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
            f"model.{unknown[0]} is not a parameter of {name}.{did_you_mean(unknown[0], accepted)} "
            f"Its parameters: {', '.join(accepted) or 'none besides the data'}."
        )
    facts = {
        "input_shape": spec.input_shape,
        "num_classes": spec.num_classes,
        "task": spec.task,
        "vocabulary_size": spec.vocabulary_size,
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
        output = model(first_examples(data, 2), training=False)
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


def first_examples(data: Any, count: int) -> Any:
    """The first ``count`` training inputs: of the arrays, or one batch of a stream."""
    import numpy as np

    from dlab.training import is_stream

    if is_stream(data):
        inputs, _ = next(iter(data.batches("train", count)))
        return np.asarray(inputs)
    return data.x_train[:count]


def with_normalization(model: keras.Model, data: Any, name: str) -> keras.Model:
    """The model behind a Normalization layer adapted on the training rows only."""
    import keras  # lazy: see check_model_fits

    normalizer = keras.layers.Normalization(name="normalize")
    normalizer.adapt(data.x_train)
    inputs = keras.Input(shape=data.x_train.shape[1:], name="features")
    return keras.Model(inputs, model(normalizer(inputs)), name=name.replace("-", "_"))
