"""The test metrics of a run that validates on its test split: its last validation pass.

With ``data.validation: test`` (as Keras's own examples pass ``validation_data=(x_test,
y_test)``) every epoch ends with ``evaluate`` on the test split. When nothing can change the
model between the last of those passes and the end of ``fit``, evaluating once more computes the
very same numbers a second time: one more pass over the whole test set (10,000 images for
CIFAR-10, 25,000 reviews for IMDB) on every run. dlab then takes the last epoch's ``val_*``
metrics as the test metrics, and metrics.json's ``test_from`` says which pass they come from.

It evaluates again whenever the model the test sees could differ from the one the last
validation pass saw:

- the validation data is not the test split itself (a fraction of the training rows, a
  stream, a dataset of the user's that holds other rows);
- a checkpoint's weights are evaluated (``train.checkpoint``), early stopping restores the best
  weights, or the optimizer swaps in its moving averages (``use_ema``, mixed precision's wrapper
  included) when fit ends;
- callbacks dlab does not know run after the last validation pass (``train.callbacks``, an
  experiment's own);
- a stateful layer (at any depth, inside a custom layer too) starts the next pass where the last
  one ended;
- the run resumed (its history holds epochs of another process) or stopped on its time limit;
- the last epoch's logs lack a validation value of any training metric, or one is not finite
  (the run guard then judges it in ``evaluate``, as for any run).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from dlab.models.families import has_stateful_layer

if TYPE_CHECKING:
    import keras

    from dlab.config import TrainConfig

EVALUATED = "evaluate"
"""``test_from`` of test metrics from a pass of their own after fit."""
LAST_VALIDATION = "last_validation"
"""``test_from`` of test metrics that are the last epoch's validation metrics."""


def reevaluate_because(
    model: keras.Model,
    data: Any,
    train: TrainConfig,
    *,
    experiment_callbacks: bool,
    resumed: bool,
    stopped_for_time: bool,
) -> str | None:
    """Why the last validation pass may not be the test evaluation; None when it is."""
    x_val, y_val = getattr(data, "x_val", None), getattr(data, "y_val", None)
    if x_val is None or x_val is not getattr(data, "x_test", None) or y_val is not data.y_test:
        return "the validation data is not the test split"
    if train.checkpoint is not None:
        return "the best checkpoint is evaluated"
    if train.early_stopping is not None and train.early_stopping.restore_best_weights:
        return "early stopping restores the best weights"
    if _changes_weights_when_fit_ends(model.optimizer):
        return "the optimizer swaps in its moving averages when fit ends"
    if train.callbacks or experiment_callbacks:
        return "callbacks may change the model after the last validation pass"
    if has_stateful_layer(model):
        return "a stateful layer starts each pass where the last one ended"
    if resumed:
        return "the run resumed"
    if stopped_for_time:
        return "the run stopped on its time limit"
    return None


def _changes_weights_when_fit_ends(optimizer: Any) -> bool:
    """Whether ``fit`` ends by writing other values into the weights: Keras then calls
    ``finalize_variable_values``, which swaps in the moving averages of a ``use_ema`` optimizer (also
    one inside mixed precision's ``LossScaleOptimizer``, whose own ``use_ema`` is False) and may do
    anything in an optimizer class of the user's that overrides it."""
    import keras

    inner = getattr(optimizer, "inner_optimizer", optimizer)
    if inner is None:
        return False
    overridden = (
        type(inner).finalize_variable_values is not keras.optimizers.Optimizer.finalize_variable_values
    )
    return bool(getattr(inner, "use_ema", False)) or overridden


def last_validation_metrics(history: dict[str, list[float]]) -> dict[str, float] | None:
    """The last epoch's ``val_*`` values named as ``evaluate`` names them (``val_loss`` ->
    ``loss``), or None when a training metric has no finite validation value."""
    trained = [key for key in history if not key.startswith("val_") and key != "learning_rate"]
    if not trained or any(not history.get(f"val_{key}") for key in trained):
        return None
    last = {key: float(history[f"val_{key}"][-1]) for key in trained}
    if not all(math.isfinite(value) for value in last.values()):
        return None
    return last
