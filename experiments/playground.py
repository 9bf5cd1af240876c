"""The TensorFlow Playground in Keras: small MLPs on the four 2-D toy problems.

Input(2) -> Dense(n, activation) x len(hidden) -> Dense(1, tanh), labels -1/+1,
trained with the Playground's squared error and SGD. ``hidden: []`` is a
single output neuron; ``activation: linear`` makes every layer linear (then no
depth can bend the decision line). The reported ``test_loss`` is the
Playground's: the mean of 0.5 * (output - label)^2 on the test points, without
the L1/L2 penalty.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from dlab.config import StrictModel
from dlab.errors import ConfigError, did_you_mean
from dlab.framework.recipes import KerasExperiment
from dlab.framework.registry import register
from dlab.plots import decision_boundary

if TYPE_CHECKING:
    import keras

    from dlab.config import RunConfig
    from dlab.data import ArrayDataset


class PlaygroundConfig(StrictModel):
    """The network's shape and regularization, as the Playground's controls set them."""

    hidden: list[int] = Field(
        default_factory=lambda: [4, 2], description="Neurons per hidden layer; [] is a single output neuron."
    )
    activation: Literal["linear", "relu", "tanh", "sigmoid"] = Field(
        "tanh", description="Activation of the hidden layers (the output is always tanh)."
    )
    l1: float = Field(0.0, ge=0, description="L1 penalty on every kernel.")
    l2: float = Field(0.0, ge=0, description="L2 penalty on every kernel.")


@register("playground_mlp")
class PlaygroundMlp(KerasExperiment):
    """A small MLP on circle / xor / gaussian / spiral, with its decision boundary."""

    family = "playground"
    ModelConfig = PlaygroundConfig

    def load_data(self, config: RunConfig) -> ArrayDataset:
        from dlab.data.datasets.playground import PROBLEMS  # lazy: imports numpy

        if config.data.dataset not in PROBLEMS:
            raise ConfigError(
                f"Unknown playground dataset '{config.data.dataset}' (data.dataset)."
                f"{did_you_mean(config.data.dataset, PROBLEMS)} The playground has four: "
                f"{', '.join(PROBLEMS)}."
            )
        return super().load_data(config)

    def build_model(self, config: RunConfig, data: ArrayDataset) -> keras.Model:
        import keras
        from keras import layers

        from dlab.models.blocks import apply_layers, dense_stack, kernel_regularizer  # lazy: imports keras

        settings: PlaygroundConfig = config.model
        inputs = keras.Input(shape=(2,), name="points")
        x = apply_layers(
            inputs,
            dense_stack(
                settings.hidden, settings.activation, l1=settings.l1, l2=settings.l2, prefix="hidden"
            ),
        )
        outputs = layers.Dense(
            1,
            activation="tanh",
            name="output",
            kernel_regularizer=kernel_regularizer(settings.l1, settings.l2),
        )(x)
        return keras.Model(inputs, outputs, name="playground")

    def figures(self, ctx, model, data, result):
        import numpy as np

        from dlab.training.outputs import outputs_in_batches  # lazy: imports keras

        def predict(points):
            return outputs_in_batches(model, points, 4096).reshape(-1)

        test_output = predict(data.x_test)
        ctx.record(
            test_loss=float(np.mean(0.5 * (test_output - data.y_test) ** 2)),
            train_loss=float(np.mean(0.5 * (predict(data.x_train) - data.y_train) ** 2)),
        )
        figure = decision_boundary(
            predict,
            data.x_train,
            data.y_train,
            boundary=0.0,
            title=f"{ctx.config.name}: {data.name}, hidden {ctx.config.model.hidden or 'none'}",
            class_names=data.class_names,
            x_test=data.x_test,
            y_test=data.y_test,
        )
        ctx.run_dir.save_figure(figure, "decision_boundary")
