"""The recipes most experiments are: the Keras fit recipe, the NumPy loop, classifiers' figures.

:class:`KerasExperiment` implements ``run`` as the standard Keras recipe
(compile, fit with validation data, evaluate on test, save, plot), so a Keras
experiment only writes ``build_model`` and, optionally, ``figures``.
:class:`ScratchExperiment` runs a NumPy model's gradient-descent loop.
"""

from __future__ import annotations

import functools
import time
from typing import TYPE_CHECKING, Any, ClassVar

from dlab.data import load_dataset
from dlab.errors import ConfigError
from dlab.framework.base import Experiment
from dlab.framework.inference import image_spec
from dlab.plots import confusion_matrix, prediction_grid
from dlab.run.history import record_history
from dlab.runtime.console import epoch_printer

if TYPE_CHECKING:
    import keras

    from dlab.config import RunConfig
    from dlab.data import ArrayDataset
    from dlab.run.context import RunContext
    from dlab.training import FitResult


class KerasExperiment(Experiment):
    """An experiment trained with ``model.fit`` on an :class:`ArrayDataset`.

    ``prepare`` builds the metrics once (an unknown metric name fails before the run
    exists), runs the experiment's own :meth:`check` and builds the model; a subclass
    writes ``build_model`` and, where it has more to check, ``check``.
    """

    supports_kfold = True

    def load_data(self, config: RunConfig) -> ArrayDataset:
        if config.data.validation == "none":
            raise ConfigError(
                "data.validation='none' is for NumPy experiments; Keras runs always "
                "validate. Use 'test', a fraction (e.g. 0.2) or a count of samples."
            )
        return load_dataset(config.data, config.seed)

    def build_model(self, config: RunConfig, data: ArrayDataset) -> keras.Model:
        """Return the (uncompiled) Keras model for this config and data."""
        raise NotImplementedError

    def figures(self, ctx: RunContext, model: keras.Model, data: ArrayDataset, result: FitResult) -> None:
        """Write task-specific figures; learning curves are always written."""

    def prepare(self, config: RunConfig, data: ArrayDataset) -> keras.Model:
        from dlab.training import build_metrics  # lazy: imports keras

        build_metrics(config.train, getattr(data, "num_classes", None))  # fails here, not after training
        self.check(config, data)
        return self.build_model(config, data)

    def check(self, config: RunConfig, data: ArrayDataset) -> None:
        """Check the config against the loaded data (k-fold needs enough samples)."""
        k = config.train.kfold
        if k is not None and k > len(data.x_train):
            raise ConfigError(
                f"train.kfold={k} is larger than the {len(data.x_train)} training "
                "samples; use 2 <= k <= the number of samples."
            )

    def resume_unsupported(self, config: RunConfig) -> str | None:
        if config.train.kfold:
            return (
                "k-fold runs train one model per fold and then a final model; only a single "
                "model.fit can be resumed"
            )
        return None

    def run(self, ctx: RunContext, data: ArrayDataset, model: keras.Model) -> None:
        from dlab import training  # lazy: imports keras

        if ctx.config.train.kfold:
            result = training.kfold_fit_and_evaluate(self.build_model, data, ctx, final_model=model)
        else:
            result = training.fit_and_evaluate(model, data, ctx)
        with ctx.stages.time("figures"):
            self.figures(ctx, result.model, data, result)
        with ctx.stages.time("save_model"):
            self.save_inference(ctx, data)


def keras_only_settings(train: Any) -> list[str]:
    """The ``train`` keys a NumPy loop cannot honour that this config sets (Keras options)."""
    found = [f"train.{key}" for key in ("class_weight", "reduce_lr_on_plateau") if getattr(train, key)]
    if train.callbacks:
        found.append("train.callbacks")
    if train.loss_arguments:
        found.append("train.loss arguments")
    return found


class ScratchExperiment(Experiment):
    """An experiment whose model is written out in NumPy (see :mod:`dlab.models.numpy_models`).

    The shared recipe: load the data, build the model, train it with full-batch
    (or mini-batch) gradient descent, evaluate on the test split, and report the
    per-epoch cost like any other run. TensorFlow is never imported. A subclass
    writes ``build_model`` and, optionally, ``load_data`` (calling ``super()``, to
    scale features ...), ``report`` (extra metrics.json fields) and ``figures``.
    """

    uses_keras = False
    family = "from scratch (NumPy)"

    def load_data(self, config: RunConfig) -> ArrayDataset:
        optimizer = config.train.optimizer
        if optimizer.name != "sgd" or optimizer.momentum or optimizer.clipnorm or optimizer.arguments:
            raise ConfigError(
                f"{config.name} trains with plain gradient descent written in NumPy: set "
                "train.optimizer to {name: sgd, learning_rate: ...} without momentum, clipnorm or "
                f"other Keras arguments (got {optimizer.model_dump(exclude_none=True)})."
            )
        keras_only = keras_only_settings(config.train)
        if keras_only:
            raise ConfigError(
                f"{config.name} trains in NumPy, without Keras: {', '.join(keras_only)} would be "
                "ignored. Remove them (they apply to Keras experiments)."
            )
        return load_dataset(config.data, config.seed)

    def build_model(self, config: RunConfig, data: ArrayDataset) -> Any:
        """Return a :class:`dlab.models.numpy_models.ScratchModel`."""
        raise NotImplementedError

    def report(self, ctx: RunContext, model: Any, data: ArrayDataset, history: dict) -> None:
        """Add experiment-specific results to metrics.json (``ctx.record``)."""

    def figures(self, ctx: RunContext, model: Any, data: ArrayDataset) -> None:
        """Write task figures; the cost curve is always written."""

    def resume_unsupported(self, config: RunConfig) -> str | None:
        return (
            "NumPy runs keep no backup of their training state (they take seconds): start a new run instead"
        )

    def prepare(self, config: RunConfig, data: ArrayDataset) -> Any:
        model = self.build_model(config, data)
        if config.train.loss != model.loss_name:
            raise ConfigError(
                f"{config.name}'s model is written for {model.loss_name}; "
                f"train.loss is {config.train.loss}. Set train.loss={model.loss_name}."
            )
        return model

    def run(self, ctx: RunContext, data: ArrayDataset, model: Any) -> None:
        import numpy as np

        from dlab.models.numpy_models import gradient_descent  # lazy: imports numpy

        config = ctx.config
        ctx.record(params={"total": int(sum(p.size for p in model.params.values()))})
        started = time.perf_counter()
        history = gradient_descent(
            model,
            data.x_train,
            data.y_train,
            epochs=config.train.epochs,
            learning_rate=config.train.optimizer.learning_rate,
            batch_size=config.train.batch_size,
            rng=np.random.default_rng(config.seed),
            validation=(data.x_val, data.y_val) if data.x_val is not None else None,
            history=ctx.history,
            on_batch_end=functools.partial(
                ctx.guard.check_batch,
                hint=(
                    "lower train.optimizer.learning_rate (NumPy runs train with plain gradient "
                    "descent, without clipping)"
                ),
            ),
            stop_after_epoch=lambda epoch: ctx.guard.time_is_up(),
            on_epoch_end=epoch_printer(ctx.verbose, config.train.epochs),
        )
        seconds = time.perf_counter() - started
        ctx.stages.add("fit", seconds)
        epochs_run = len(history["loss"])
        if ctx.guard.time_limit_reached and epochs_run < config.train.epochs:
            ctx.record(stopped_early="time_limit")
        ctx.record(
            test=model.evaluate(data.x_test, data.y_test),
            final_cost=history["loss"][-1],
            timing={
                "fit_seconds": round(seconds, 4),
                "time_per_epoch_s": round(seconds / epochs_run, 6),
                "train_samples_per_s": round(len(data.x_train) * epochs_run / seconds, 1)
                if seconds > 0
                else None,
            },
        )
        record_history(ctx, history)
        self.report(ctx, model, data, history)
        with ctx.stages.time("figures"):
            self.figures(ctx, model, data)


class ClassifierExperiment(KerasExperiment):
    """A Keras classifier: adds the test confusion matrix (``plots/confusion_matrix.png``).

    Subclasses add what shows their inputs to a person (:meth:`show_predictions`):
    a grid of images, decoded documents ...
    """

    max_predictions: ClassVar[int] = 10_000

    def figures(self, ctx: RunContext, model: keras.Model, data: ArrayDataset, result: FitResult) -> None:
        import numpy as np

        true, scores = self.test_predictions(ctx, model, data)
        count = len(true)
        predicted = scores.argmax(axis=-1) if scores.shape[-1] > 1 else (scores[:, 0] >= 0.5)
        true = np.asarray(true).reshape(count, -1)
        true = true.argmax(axis=-1) if true.shape[1] > 1 else true[:, 0]
        names = data.class_names or [str(i) for i in range(int(true.max()) + 1)]
        ctx.run_dir.save_figure(
            confusion_matrix(
                true, predicted.astype(int), names, title=f"{ctx.config.name}: test confusion matrix"
            ),
            "confusion_matrix",
        )
        self.show_predictions(ctx, data, true, predicted.astype(int), scores, names)

    def test_predictions(self, ctx: RunContext, model: keras.Model, data: ArrayDataset) -> tuple:
        """(true labels, model scores) of the first ``max_predictions`` test samples."""
        from dlab.training.outputs import outputs_in_batches  # lazy: imports keras

        count = min(len(data.x_test), self.max_predictions)
        scores = outputs_in_batches(model, data.x_test[:count], ctx.config.train.batch_size or 256)
        return data.y_test[:count], scores

    def show_predictions(
        self, ctx: RunContext, data: ArrayDataset, true: Any, predicted: Any, scores: Any, names: list[str]
    ) -> None:
        """Show a person some test inputs with the model's predictions (nothing by default)."""


class ImageClassifierExperiment(ClassifierExperiment):
    """An image classifier: also a grid of test images with predicted and true labels.

    ``plots/predictions.png`` shows the first test images, their predicted label,
    and wrong ones in red with the true label.
    """

    grid_size: ClassVar[int] = 20
    # Enough synthetic images for one epoch to move well above chance (1/10) in seconds.
    smoke_overrides: ClassVar[dict[str, Any]] = {"data.train_samples": 2048, "data.test_samples": 512}

    def inference_spec(self, config: RunConfig, data: Any) -> dict[str, Any] | None:
        """Raw images are resized to the run's image size; the model rescales them itself."""
        shape = data.image_shape if hasattr(data, "image_shape") else data.x_train.shape[1:]
        if len(shape) != 3:  # e.g. MNIST with noise columns appended: not an image any more
            return None
        return image_spec(config, shape, data.class_names, "classification")

    def display_images(self, ctx: RunContext, data: ArrayDataset, count: int) -> Any:
        """The first ``count`` test images as uint8 (N, H, W, C) for the prediction grid."""
        return data.x_test[:count]

    def show_predictions(self, ctx, data, true, predicted, scores, names) -> None:
        shown = min(self.grid_size, len(true))
        ctx.run_dir.save_figure(
            prediction_grid(
                self.display_images(ctx, data, shown),
                true[:shown],
                predicted[:shown],
                names,
                title=f"{ctx.config.name}: test predictions",
            ),
            "predictions",
        )
