"""The four 2-D classification sets of the TensorFlow Playground: circle, xor, gaussian, spiral.

Generated from the seed the way the Playground's ``dataset.ts`` does it: points
in a 10x10 square centred on the origin, labels -1 / +1 (the Playground trains
a tanh output with squared error on those), ``data.noise`` from 0 to 0.5 (the
Playground's 0-50 slider), ``data.samples`` points (default 500) and
``data.test_split`` held out (default 0.5: the Playground's 50% ratio).
``builtin`` and ``synthetic`` are the same generator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from dlab.data import ArrayDataset, require_source
from dlab.data.modalities.tabular import holdout
from dlab.data.registry import dataset

if TYPE_CHECKING:
    from dlab.config import DataConfig

PROBLEMS = ("circle", "xor", "gaussian", "spiral")
DEFAULT_SAMPLES = 500
RADIUS = 5.0


def _circle(n: int, noise: float, rng: np.random.Generator):
    half = n // 2
    inner = rng.uniform(0, RADIUS * 0.5, half)
    outer = rng.uniform(RADIUS * 0.7, RADIUS, n - half)
    r = np.concatenate([inner, outer])
    angle = rng.uniform(0, 2 * np.pi, n)
    points = np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1)
    jitter = rng.uniform(-RADIUS, RADIUS, (n, 2)) * noise
    labels = np.where(np.linalg.norm(points + jitter, axis=1) < RADIUS * 0.5, 1.0, -1.0)
    return points, labels


def _xor(n: int, noise: float, rng: np.random.Generator):
    points = rng.uniform(-5, 5, (n, 2))
    points += np.where(points > 0, 0.3, -0.3)  # keep points off the axes, as the Playground does
    jitter = rng.uniform(-5, 5, (n, 2)) * noise
    shifted = points + jitter
    labels = np.where(shifted[:, 0] * shifted[:, 1] >= 0, 1.0, -1.0)
    return points, labels


def _gaussian(n: int, noise: float, rng: np.random.Generator):
    variance = 0.5 + noise / 0.5 * 3.5  # the Playground maps noise 0..0.5 to variance 0.5..4
    half = n // 2
    positive = rng.normal(2, np.sqrt(variance), (half, 2))
    negative = rng.normal(-2, np.sqrt(variance), (n - half, 2))
    return np.concatenate([positive, negative]), np.concatenate([np.ones(half), -np.ones(n - half)])


def _spiral(n: int, noise: float, rng: np.random.Generator):
    half = n // 2
    arms = []
    for delta, count, label in ((0.0, half, 1.0), (np.pi, n - half, -1.0)):
        i = np.arange(count)
        r = i / count * 5
        t = 1.75 * i / count * 2 * np.pi + delta
        jitter = rng.uniform(-1, 1, (count, 2)) * noise
        xy = np.stack([r * np.sin(t), r * np.cos(t)], axis=1) + jitter
        arms.append((xy, np.full(count, label)))
    return np.concatenate([a[0] for a in arms]), np.concatenate([a[1] for a in arms])


GENERATORS = {"circle": _circle, "xor": _xor, "gaussian": _gaussian, "spiral": _spiral}


def generate(problem: str, samples: int, noise: float, seed: int):
    """All points of one Playground problem: x (samples, 2) float32, y (samples,) in {-1, +1}."""
    rng = np.random.default_rng(seed)
    x, y = GENERATORS[problem](samples, noise, rng)
    return x.astype(np.float32), y.astype(np.float32)


@dataset("circle", "xor", "gaussian", "spiral")
def load_data(config: DataConfig, seed: int) -> ArrayDataset:
    require_source(config, ("builtin", "synthetic"), "it is generated from the seed")
    x, y = generate(config.dataset, config.samples or DEFAULT_SAMPLES, config.noise, seed)
    (x_train, y_train), (x_test, y_test) = holdout(x, y, config.test_split, seed)
    return ArrayDataset(
        name=config.dataset,
        source=config.source,
        location=None,
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        class_names=["-1", "+1"],
        extra={"feature_names": ["x1", "x2"], "noise": config.noise},
    )
