"""Use what was trained: predict, generate, neighbours, evaluate and export a saved run's model; doctor.

Each reads a saved run through :mod:`dlab.use`, which starts TensorFlow itself (device, debug).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dlab.runtime.doctor import doctor as check_environment
from dlab.use.evaluate import evaluate as evaluate_run
from dlab.use.export import export as export_model
from dlab.use.generate import generate as generate_text
from dlab.use.generate import neighbours as nearest_words
from dlab.use.predict import predict as predict_inputs


def predict(
    run_dir: str, inputs: Sequence[str], *, output: str | None = None, top: int = 3, **runtime: Any
) -> Any:
    """``dlab predict``: a saved run's model on raw inputs; see :func:`dlab.use.predict.predict`."""
    return predict_inputs(run_dir, list(inputs), output=output, top=top, **runtime)


def generate(run_dir: str, prompt: str, *, length: int = 200, temperature: float | None = None,
             seed: int | None = None, **runtime: Any) -> Any:  # fmt: skip
    """``dlab generate``: continue a prompt with a character language model; see :mod:`dlab.use.generate`."""
    return generate_text(run_dir, prompt, length=length, temperature=temperature, seed=seed, **runtime)


def neighbours(run_dir: str, words: Sequence[str], *, count: int = 5) -> Any:
    """``dlab neighbours``: nearest words in a CBOW run's vectors (no TensorFlow)."""
    return nearest_words(run_dir, list(words), count=count)


def evaluate(run_dir: str, *, sets: Sequence[str] = (), batch_size: int | None = None, **runtime: Any) -> Any:
    """``dlab evaluate``: a run's model on another copy of its data; see :mod:`dlab.use.evaluate`."""
    return evaluate_run(run_dir, sets=list(sets), batch_size=batch_size, **runtime)


def export(run_dir: str, fmt: str, *, output: str | None = None, force: bool = False, **runtime: Any) -> Any:
    """``dlab export``: export, reload in its runtime, compare with Keras; see :mod:`dlab.use.export`."""
    return export_model(run_dir, fmt, output=output, force=force, **runtime)


def doctor() -> Any:
    """``dlab doctor``: the environment as a list of checks; see :mod:`dlab.runtime.doctor`."""
    return check_environment()
