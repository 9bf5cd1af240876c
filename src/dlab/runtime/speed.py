"""The measured speed table that ``auto`` reads: backend and steps per execution per compute family.

``benchmarks/bench_backends.py`` trains one small model of each compute family
(dense, convolutional, recurrent, embedding, transfer, multi-hot) on the same synthetic data on
every installed backend and steps-per-execution setting, and writes
``speed_table.json`` next to this module: training samples/s per
family -> backend -> steps per execution. The choices below only read it, so
``auto`` follows measurements; re-run the benchmark on another machine to re-tune.

No heavy imports: the backend is chosen before Keras is imported.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

TABLE_PATH = Path(__file__).with_name("speed_table.json")

FAMILIES = ("dense", "convolutional", "recurrent", "embedding", "transfer", "multi_hot")
"""Compute families: what dominates a training step's cost. ``multi_hot`` is a dense stack over
multi-hot rows (about 1% ones), which TensorFlow trains on sparse batches and the other backends
on dense ones, so its ranking is not the dense family's."""

FALLBACK_BACKEND = "tensorflow"
FALLBACK_STEPS = 1


@functools.cache
def load_table(path: str | None = None) -> dict[str, Any]:
    """The table as written by the benchmark ({} when it is missing or unreadable)."""
    try:
        return json.loads(Path(path or TABLE_PATH).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _rows(family: str, table: dict[str, Any] | None = None) -> dict[str, dict[str, float]]:
    table = load_table() if table is None else table
    return table.get("samples_per_s", {}).get(family, {})


def fastest_backend(
    family: str, installed: list[str], table: dict[str, Any] | None = None
) -> tuple[str, str]:
    """The installed backend with the highest measured samples/s for ``family``, and why.

    Returns:
        (backend, reason); TensorFlow when the table has no row for the family.
    """
    rows = _rows(family, table)
    best: tuple[float, str] | None = None
    for backend in installed:
        speeds = rows.get(backend) or {}
        if speeds:
            top = max(float(value) for value in speeds.values())
            if best is None or top > best[0]:
                best = (top, backend)
    if best is None:
        return FALLBACK_BACKEND, f"no measurement for family {family!r}: TensorFlow"
    return best[1], f"fastest installed backend for {family} models in dlab's speed table"


def best_steps_per_execution(
    backend: str, family: str, steps_per_epoch: int, table: dict[str, Any] | None = None
) -> int:
    """The measured fastest steps per execution for this backend and family, at most ``steps_per_epoch``.

    Settings within 3% of the fastest count as equal and the smallest of them wins:
    fewer batches per call keep interrupts, NaN detection and progress finer-grained.
    """
    speeds = {int(k): float(v) for k, v in (_rows(family, table).get(backend) or {}).items()}
    if not speeds:
        return max(1, min(FALLBACK_STEPS, steps_per_epoch))
    top = max(speeds.values())
    steps = min(k for k, v in speeds.items() if v >= 0.97 * top)
    return max(1, min(steps, steps_per_epoch))
