"""``train.steps_per_execution``: how many batches one compiled call of fit runs.

Every compiled call costs a fixed host overhead (a Python callback round, a
dispatch, a device sync); on a small model that is most of a step. Running N
batches per call divides it by N without changing the math: the same batches go
through the same updates in the same order. ``auto`` reads the measured fastest
setting for this backend and model family (:mod:`dlab.runtime.speed`), bounded by
the steps of one epoch; an explicit number is used as given.

Batch-level checks then see every N-th batch: the interrupt flag, the NaN check
and the progress bar run between compiled calls, so "batch B" in their messages
is the last batch of the call in which it happened.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import keras

from dlab.models.families import model_family
from dlab.runtime.speed import best_steps_per_execution

if TYPE_CHECKING:
    from dlab.config import TrainConfig


ONE_STEP_BACKENDS = {
    "torch": "one batch per call on PyTorch (Keras 3's torch trainer has no multi-step loop "
    "and refuses steps_per_execution > 1)",
}
"""Backends that run one batch per call whatever the config says, and why (metrics.json's
``execution.source``). The setting only changes speed, never the math, so a config tuned for
TensorFlow (playground-mlp's 25) still runs there instead of failing inside fit."""


@dataclass(frozen=True)
class Execution:
    """The resolved setting, for compile() and metrics.json's ``execution`` block."""

    steps_per_execution: int
    source: str  # "config" or "auto" (and why, where the backend overrides it)
    model_family: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def resolve_execution(config: TrainConfig, model: Any, steps_per_epoch: int) -> Execution:
    """The steps per execution this model trains with on the running backend."""
    family = model_family(model)
    backend = keras.backend.backend()
    if backend in ONE_STEP_BACKENDS:
        source = "auto" if config.steps_per_execution == "auto" else f"config {config.steps_per_execution}"
        return Execution(1, f"{source}; {ONE_STEP_BACKENDS[backend]}", family)
    if config.steps_per_execution != "auto":
        return Execution(int(config.steps_per_execution), "config", family)
    if getattr(config, "strategy", "default") != "default":
        # Keras's multi-step loop fails under tf.distribute (an unfed placeholder in its
        # while loop, Keras 3.15): a mirrored run calls one step at a time unless told otherwise
        return Execution(1, "auto (one step per call under a distribution strategy)", family)
    steps = best_steps_per_execution(backend, family, steps_per_epoch)
    return Execution(steps, "auto", family)
