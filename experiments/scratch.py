"""From-scratch NumPy experiments: a neuron on AND, a softmax decoder, XOR, logistic and
linear regression.

Each class only says which model it builds and what it reports; the training
loop, history, cost curve and run directory are shared
(:class:`dlab.framework.recipes.ScratchExperiment`, :mod:`dlab.models.numpy_models`). NumPy is
imported inside the methods so that ``dlab list`` stays fast.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from dlab.config import StrictModel
from dlab.errors import DataError
from dlab.framework.recipes import ScratchExperiment
from dlab.framework.registry import register
from dlab.plots import confusion_matrix, decision_boundary, fitted_line

if TYPE_CHECKING:
    from dlab.config import RunConfig
    from dlab.data import ArrayDataset
    from dlab.models.numpy_models import LinearRegression, SigmoidNeuron, SoftmaxLayer, TwoLayerNet
    from dlab.run.context import RunContext


def _save_decision_boundary(ctx: RunContext, model, data: ArrayDataset) -> None:
    figure = decision_boundary(
        model.predict,
        data.x_train,
        data.y_train,
        title=f"{ctx.config.name}: decision boundary",
        class_names=data.class_names,
    )
    ctx.run_dir.save_figure(figure, "decision_boundary")


# --------------------------------------------------------------------------- perceptron


class PerceptronConfig(StrictModel):
    """One sigmoid neuron; how its weights start and which cost counts as learned."""

    init: Literal["zeros", "constant"] = Field(
        "zeros",
        description="zeros (the workshop) or every weight and the bias set to init_value "
        "(the spreadsheet template).",
    )
    init_value: float = Field(10.0, description="Start value of weights and bias for init=constant.")
    cost_threshold: float = Field(
        0.09, gt=0, description="Report the first epoch whose cost is below this (null if none)."
    )


@register("perceptron")
class Perceptron(ScratchExperiment):
    """A single sigmoid neuron learns a truth table (AND) by gradient descent."""

    ModelConfig = PerceptronConfig

    def build_model(self, config: RunConfig, data: ArrayDataset) -> SigmoidNeuron:
        import numpy as np

        from dlab.models.numpy_models import SigmoidNeuron  # lazy: imports numpy

        settings: PerceptronConfig = config.model
        start = 0.0 if settings.init == "zeros" else settings.init_value
        n_features = data.x_train.shape[1]
        return SigmoidNeuron(n_features, np.full(n_features, start), start)

    def report(self, ctx, model, data, history):
        threshold = ctx.config.model.cost_threshold
        below = next((epoch for epoch, cost in enumerate(history["loss"], start=1) if cost < threshold), None)
        ctx.record(
            first_epoch_below_threshold={"threshold": threshold, "epoch": below},
            predictions=[int(p >= 0.5) for p in model.predict(data.x_test)],
            weights={"w": model.params["w"].tolist(), "b": float(model.params["b"])},
        )

    def figures(self, ctx, model, data):
        _save_decision_boundary(ctx, model, data)


# --------------------------------------------------------------------------- softmax decoder


class SoftmaxDecoderConfig(StrictModel):
    """A single dense layer into softmax."""

    sigmoid_first: bool = Field(
        False,
        description="Squash the logits with a sigmoid before the "
        "softmax (the report's variant; it caps the confidence).",
    )


@register("softmax_decoder")
class SoftmaxDecoder(ScratchExperiment):
    """A single-layer softmax classifier decodes two bits into one of four classes."""

    ModelConfig = SoftmaxDecoderConfig

    def build_model(self, config: RunConfig, data: ArrayDataset) -> SoftmaxLayer:
        import numpy as np

        from dlab.models.numpy_models import SoftmaxLayer  # lazy: imports numpy

        n_features, n_classes = data.x_train.shape[1], data.num_classes
        return SoftmaxLayer(
            np.zeros((n_features, n_classes)), np.zeros(n_classes), sigmoid_first=config.model.sigmoid_first
        )

    def report(self, ctx, model, data, history):
        import numpy as np

        ctx.record(
            predictions=model.predict(data.x_test).argmax(axis=1).tolist(),
            probabilities=np.round(model.predict(data.x_test), 4).tolist(),
        )


# --------------------------------------------------------------------------- XOR


class XorMlpConfig(StrictModel):
    """A 2-H-1 network with a sigmoid output."""

    hidden_units: int = Field(2, ge=1, description="Neurons in the hidden layer.")
    hidden_activation: Literal["sigmoid", "tanh"] = Field("sigmoid", description="Hidden activation.")
    init_scale: float = Field(1.0, gt=0, description="Std of the normal initial weights (biases 0).")


@register("xor_mlp")
class XorMlp(ScratchExperiment):
    """A two-layer network learns XOR with backpropagation written out in NumPy."""

    ModelConfig = XorMlpConfig

    def build_model(self, config: RunConfig, data: ArrayDataset) -> TwoLayerNet:
        import numpy as np

        from dlab.models.numpy_models import TwoLayerNet  # lazy: imports numpy

        settings: XorMlpConfig = config.model
        rng = np.random.default_rng(config.seed)
        n_in, hidden = data.x_train.shape[1], settings.hidden_units
        params = {
            "W1": rng.normal(0, settings.init_scale, (n_in, hidden)),
            "b1": np.zeros(hidden),
            "W2": rng.normal(0, settings.init_scale, (hidden, 1)),
            "b2": np.zeros(1),
        }
        return TwoLayerNet(params, settings.hidden_activation)

    def report(self, ctx, model, data, history):
        learned = next(
            (epoch for epoch, accuracy in enumerate(history["accuracy"], start=1) if accuracy == 1.0), None
        )
        ctx.record(
            initial_cost=history["loss"][0],
            first_epoch_all_correct=learned,
            predictions=[int(p >= 0.5) for p in model.predict(data.x_test)],
        )

    def figures(self, ctx, model, data):
        _save_decision_boundary(ctx, model, data)


# --------------------------------------------------------------------------- logistic regression


class LogisticRegressionConfig(StrictModel):
    """Logistic regression on a table."""

    standardize: bool = Field(True, description="Scale features with the training mean/std.")


@register("logistic_regression")
class LogisticRegression(ScratchExperiment):
    """Logistic regression from scratch on a real binary table (breast cancer or any CSV)."""

    ModelConfig = LogisticRegressionConfig

    def load_data(self, config: RunConfig) -> ArrayDataset:
        from dlab.data.modalities.tabular import standardize  # lazy: imports numpy

        data = super().load_data(config)
        if data.num_classes != 2:
            raise DataError(
                f"logistic regression needs a binary target; {data.location or data.name} "
                f"has {data.num_classes} classes: {', '.join(data.class_names or [])}."
            )
        if not config.model.standardize:
            return data
        arrays = [data.x_train, data.x_test] + ([data.x_val] if data.x_val is not None else [])
        scaled = standardize(*arrays)
        return replace(
            data, x_train=scaled[0], x_test=scaled[1], x_val=scaled[2] if data.x_val is not None else None
        )

    def build_model(self, config: RunConfig, data: ArrayDataset) -> SigmoidNeuron:
        import numpy as np

        from dlab.models.numpy_models import SigmoidNeuron  # lazy: imports numpy

        n_features = data.x_train.shape[1]
        return SigmoidNeuron(n_features, np.zeros(n_features), 0.0)

    def figures(self, ctx, model, data):
        predicted = (model.predict(data.x_test) >= 0.5).astype(int)
        figure = confusion_matrix(
            data.y_test,
            predicted,
            data.class_names or ["0", "1"],
            title=f"{ctx.config.name}: test confusion matrix",
        )
        ctx.run_dir.save_figure(figure, "confusion_matrix")


# --------------------------------------------------------------------------- linear regression


@register("linear_regression")
class LinearRegressionExperiment(ScratchExperiment):
    """Linear regression by gradient descent, compared with the least-squares optimum."""

    def build_model(self, config: RunConfig, data: ArrayDataset) -> LinearRegression:
        from dlab.models.numpy_models import LinearRegression  # lazy: imports numpy

        return LinearRegression(data.x_train.shape[1])

    def report(self, ctx, model, data, history):
        import numpy as np

        design = np.c_[data.x_train, np.ones(len(data.x_train))]
        solution, *_ = np.linalg.lstsq(design, data.y_train, rcond=None)
        optimum = float(np.mean((design @ solution - data.y_train) ** 2))
        ctx.record(
            weights={"w": model.params["w"].tolist(), "b": float(model.params["b"])},
            least_squares={"w": solution[:-1].tolist(), "b": float(solution[-1]), "train_mse": optimum},
        )

    def figures(self, ctx, model, data):
        figure = fitted_line(
            data.x_train,
            data.y_train,
            model.predict,
            title=f"{ctx.config.name}: fitted line",
            x_test=data.x_test,
            y_test=data.y_test,
        )
        ctx.run_dir.save_figure(figure, "fitted_line")
