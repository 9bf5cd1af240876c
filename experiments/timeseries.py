"""Time-series forecasting: the Jena climate models of Deep Learning with Python (ch. 10).

Every config forecasts the temperature 24 hours after the end of a 5-day window
(120 hourly rows of the 14 standardized columns) and reports the mean absolute
error in degC on the validation and test windows, next to the common-sense
baseline ("the temperature will be what it is now") over the same windows.

``jena_forecast`` is one experiment for all of them: ``model.architecture``
picks the network (dense, conv1d, lstm, gru) or ``last_value``, the baseline,
which trains nothing. Windows (those of
``keras.utils.timeseries_dataset_from_array``) are cut batch by batch
(:func:`dlab.data.datasets.jena.window_splits`) and handed to the shared training recipe as
a :class:`dlab.data.BatchedDataset`.
The targets stay in degC, as in DLwP, so the MAE metric is already in degC.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from dlab.config import StrictModel
from dlab.data import load_dataset
from dlab.errors import ConfigError
from dlab.framework.recipes import KerasExperiment
from dlab.framework.registry import register
from dlab.plots import forecast_stretch
from dlab.run.context import RunContext

# dlab.data.datasets.jena is imported inside the functions: `dlab list` imports every experiment
# module, and it imports NumPy.

if TYPE_CHECKING:
    import keras

    from dlab.config import RunConfig
    from dlab.data import BatchedDataset
    from dlab.training import FitResult


class WindowConfig(StrictModel):
    """How the series becomes (window, target) samples (DLwP's settings by default)."""

    sequence_length: int = Field(120, ge=1, description="Rows per window (120 hourly rows: 5 days).")
    sampling_rate: int = Field(
        6, ge=1, description="Take every Nth row (6: hourly, rows are 10 minutes apart)."
    )
    horizon_hours: int = Field(
        24, ge=1, description="Forecast the temperature this many hours after the window's last row."
    )


class ForecastConfig(StrictModel):
    """The forecasting model: a network, or the last-value baseline."""

    architecture: Literal["last_value", "dense", "conv1d", "lstm", "gru"] = Field(
        "lstm",
        description="last_value: the baseline, no training; dense: Flatten -> Dense; "
        "conv1d: Conv1D + max-pool blocks -> global average pool; lstm / gru: recurrent layers.",
    )
    units: list[int] = Field(
        default_factory=lambda: [16],
        description="Units of each hidden Dense layer (dense) or each stacked recurrent layer (lstm, gru).",
    )
    recurrent_dropout: float = Field(
        0.0, ge=0, lt=1, description="Recurrent dropout of every recurrent layer."
    )
    dropout: float = Field(0.0, ge=0, lt=1, description="Dropout before the output layer.")
    filters: int = Field(8, ge=1, description="conv1d: filters of every Conv1D layer.")
    kernel_sizes: list[int] = Field(
        default_factory=lambda: [24, 12, 6],
        description="conv1d: kernel size of each Conv1D layer; a max-pool of 2 between them.",
    )
    window: WindowConfig = Field(default_factory=WindowConfig)
    plot_hours: int = Field(
        240,
        ge=1,
        description="Hours of the test set drawn in plots/forecast.png (consecutive 10-minute forecasts).",
    )


@register("jena_forecast")
class JenaForecast(KerasExperiment):
    """Forecast the Jena temperature 24 h ahead from a 5-day window; MAE in degC vs the baseline."""

    family = "time series"
    compute_family = "recurrent"
    supports_kfold = False
    kfold_unsupported_because = "k-fold would validate on the past with a model trained on the future"
    ModelConfig = ForecastConfig
    # 2,400 synthetic rows (about 17 days), hourly windows of 24 rows (a day) and, for
    # conv1d, kernels that fit them: 1,062 training, 462 validation and 180 test windows.
    # Recurrent layers cost per time step (a 120-step GRU smoke epoch takes ~4x longer).
    smoke_overrides = {
        "data.samples": 2400,
        "data.train_samples": None,
        "data.test_samples": None,
        "model.window.sequence_length": 24,
        "model.kernel_sizes": [6, 4, 3],
    }

    def load_data(self, config: RunConfig) -> BatchedDataset:
        from dlab.data.datasets.jena import window_splits  # lazy: imports numpy

        data_config = config.data
        if data_config.validation != "split":
            raise ConfigError(
                f"{config.name} validates on the 25% of the series that follows the "
                f"training rows; data.validation={data_config.validation!r} is not "
                "allowed here. Use data.validation=split."
            )
        if data_config.train_samples or data_config.test_samples:
            raise ConfigError(
                f"{config.name} splits the series 50/25/25 in time order; "
                "data.train_samples / data.test_samples would break the rows apart. "
                "Use data.samples=N to keep only the first N rows."
            )
        rows = load_dataset(data_config, config.seed)
        return window_splits(
            rows, _windows(config), config.train.batch_size, shuffle=config.train.shuffle, seed=config.seed
        )

    def prepare(self, config: RunConfig, data: BatchedDataset) -> keras.Model | None:
        if config.model.architecture == "last_value":
            return None  # the baseline trains nothing
        return super().prepare(config, data)

    def check(self, config: RunConfig, data: BatchedDataset) -> None:
        if config.model.architecture == "conv1d":
            check_conv_stack(config.model.window.sequence_length, config.model.kernel_sizes)

    def build_model(self, config: RunConfig, data: BatchedDataset) -> keras.Model:
        import keras
        from keras import layers

        settings: ForecastConfig = config.model
        inputs = keras.Input(shape=data.input_shape, name="window")
        x = inputs
        if settings.architecture == "dense":
            x = layers.Flatten()(x)
            for units in settings.units:
                x = layers.Dense(units, activation="relu")(x)
        elif settings.architecture == "conv1d":
            for index, size in enumerate(settings.kernel_sizes):
                if index:
                    x = layers.MaxPooling1D(2)(x)
                x = layers.Conv1D(settings.filters, size, activation="relu")(x)
            x = layers.GlobalAveragePooling1D()(x)
        else:
            recurrent = layers.LSTM if settings.architecture == "lstm" else layers.GRU
            for index, units in enumerate(settings.units):
                x = recurrent(
                    units,
                    recurrent_dropout=settings.recurrent_dropout,
                    return_sequences=index < len(settings.units) - 1,
                )(x)
        if settings.dropout:
            x = layers.Dropout(settings.dropout)(x)
        outputs = layers.Dense(1, name="temperature")(x)
        return keras.Model(inputs, outputs, name=config.name.replace("-", "_"))

    def inference_spec(self, config: RunConfig, data: BatchedDataset) -> dict:
        """A raw CSV window is standardized with the training rows' statistics, kept here."""
        extra = data.rows.extra
        return {
            "task": "forecast",
            "input": "series",
            "series": {
                "columns": extra["columns"],
                "mean": extra["feature_mean"],
                "std": extra["feature_std"],
                "target_column": extra["target_column"],
                **config.model.window.model_dump(),
            },
        }

    def run(self, ctx: RunContext, data: BatchedDataset, model: keras.Model | None) -> None:
        """Train and evaluate a network (the shared recipe), or score the baseline."""
        if model is not None:
            super().run(ctx, data, model)  # fit_and_evaluate, then figures()
            return
        baseline = _baseline_maes(ctx.config, data)
        val_mae, test_mae = baseline["val"], baseline["test"]
        ctx.record(
            test={"mae": test_mae},
            final={"train": {}, "val": {"mae": val_mae}},
            params={"total": 0, "trainable": 0, "non_trainable": 0},
            forecast=_forecast_summary(val_mae, test_mae, baseline),
        )
        print(f"last-value baseline: val MAE {val_mae:.3f} degC, test MAE {test_mae:.3f} degC")
        self._plot(ctx, None, data)

    def figures(self, ctx: RunContext, model: keras.Model, data: BatchedDataset, result: FitResult) -> None:
        baseline = _baseline_maes(ctx.config, data)
        val_mae = (
            float(result.model.evaluate(data.val, return_dict=True, verbose=0)["mae"])
            if "mae" in result.test_metrics
            else None
        )
        test_mae = result.test_metrics.get("mae")
        ctx.record(forecast=_forecast_summary(val_mae, test_mae, baseline))
        if test_mae is not None:
            print(
                f"{ctx.config.name}: val MAE {val_mae:.3f} degC, test MAE {test_mae:.3f} degC "
                f"(last-value baseline {baseline['val']:.3f} / {baseline['test']:.3f})"
            )
        self._plot(ctx, model, data)

    def _plot(self, ctx: RunContext, model: keras.Model | None, data: BatchedDataset) -> None:
        """plots/forecast.png: the first ``model.plot_hours`` of test forecasts against the truth."""
        import numpy as np

        from dlab.data.datasets.jena import ROWS_PER_HOUR, last_value_predictions  # lazy: imports numpy

        config = ctx.config
        last, truth = last_value_predictions(data.rows, "test", _windows(config))
        count = min(config.model.plot_hours * ROWS_PER_HOUR, len(truth))
        predictions = {}
        if model is not None:
            batch_size = config.train.batch_size or data.train_samples
            batches = data.test.take(math.ceil(count / batch_size))  # in time order, unshuffled
            predictions[config.model.architecture] = model.predict(batches, verbose=0)[:count, 0]
        predictions["last value (baseline)"] = last[:count]
        hours = np.arange(count) / ROWS_PER_HOUR
        ctx.run_dir.save_figure(
            forecast_stretch(
                hours,
                truth[:count],
                predictions,
                title=f"{config.name}: temperature {config.model.window.horizon_hours} h "
                f"ahead, first {count / ROWS_PER_HOUR:g} h of the test set",
            ),
            "forecast",
        )


def conv_steps(sequence_length: int, kernel_sizes: list[int]) -> list[int]:
    """Time steps entering each Conv1D layer of the conv1d stack (a max-pool of 2 between them)."""
    steps, length = [], sequence_length
    for index, size in enumerate(kernel_sizes):
        length = length // 2 if index else length
        steps.append(length)
        length = length - size + 1
    return steps + [length]


def check_conv_stack(sequence_length: int, kernel_sizes: list[int]) -> None:
    """Refuse windows too short for the conv1d stack, before anything is built.

    Raises:
        ConfigError: names the Conv1D layer that gets fewer steps than its kernel, and the
            shortest sequence_length that fits.
    """

    def fits(length: int) -> bool:
        steps = conv_steps(length, kernel_sizes)
        return all(steps[i] >= size for i, size in enumerate(kernel_sizes))

    if fits(sequence_length):
        return
    steps = conv_steps(sequence_length, kernel_sizes)
    layer = next(i for i, size in enumerate(kernel_sizes) if steps[i] < size)
    shortest = next(length for length in range(1, 100_000) if fits(length))
    raise ConfigError(
        f"model.window.sequence_length={sequence_length} is too short for the conv1d stack "
        f"(kernel sizes {kernel_sizes}, a max-pool of 2 between them): Conv1D layer {layer + 1} "
        f"(kernel {kernel_sizes[layer]}) would get {steps[layer]} time steps. Use "
        f"sequence_length >= {shortest} or smaller model.kernel_sizes."
    )


def _windows(config: RunConfig):
    from dlab.data.datasets.jena import Windows  # lazy: imports numpy

    return Windows(**config.model.window.model_dump())


def _baseline_maes(config: RunConfig, data: BatchedDataset) -> dict[str, float]:
    """The last-value baseline's MAE (degC) over the validation and test windows."""
    import numpy as np

    from dlab.data.datasets.jena import last_value_predictions  # lazy: imports numpy

    maes = {}
    for split in ("val", "test"):
        predicted, true = last_value_predictions(data.rows, split, _windows(config))
        maes[split] = float(np.mean(np.abs(predicted - true)))
    return maes


def _forecast_summary(val_mae: float | None, test_mae: float | None, baseline: dict) -> dict:
    """The ``forecast`` block of metrics.json: MAE in degC, the baseline's, and who wins."""
    return {
        "val_mae_degC": val_mae,
        "test_mae_degC": test_mae,
        "baseline_val_mae_degC": baseline["val"],
        "baseline_test_mae_degC": baseline["test"],
        "beats_baseline_on_test": None if test_mae is None else test_mae < baseline["test"],
    }
